#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hermit::fuzzing::elf(data));
