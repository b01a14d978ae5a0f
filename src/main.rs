fn main() {
    println!("hermit {}", env!("CARGO_PKG_VERSION"));
}
