//! What differs between two native extension modules (ELF shared objects in a wheel): the
//! toolchain that built each (its `.comment` strings), which sections hold other bytes, and
//! whether they export the same symbols. Two `.so` files built from the same sources by another
//! compiler, linker or flags never match byte for byte; saying which of these differs is what
//! lets a reader tell "built elsewhere" from "built from other code".
//!
//! Parsed with the `object` crate (read-only, ELF only): every read is bounds-checked against
//! the input slice and returns an error rather than panicking, it allocates nothing in
//! proportion to counts the file claims, and with these features its only dependency is
//! `memchr`. `goblin` was the alternative; it pulls in `scroll`, `plain` and `log`, and has
//! had panics on malformed headers. The file comes from an untrusted archive all the same, so
//! everything kept from it here is bounded too (fuzzed: `fuzz/fuzz_targets/elf.rs`).

use std::collections::{BTreeMap, BTreeSet};

use object::{Object, ObjectSection, ObjectSymbol};

use crate::record::digest::Sha256;

/// At most this many sections are kept from one file (real extension modules have ~30).
const MAX_SECTIONS: usize = 256;
/// At most this many exported symbols are kept (an extension module exports one `PyInit_*`).
const MAX_SYMBOLS: usize = 4096;
/// At most this many `.comment` strings are kept, each at most [`MAX_STRING`] characters.
const MAX_COMMENTS: usize = 16;
const MAX_STRING: usize = 200;
/// At most this many names are listed in one part of an explanation.
const SHOWN: usize = 6;

/// An ELF file's starting bytes.
const MAGIC: &[u8] = b"\x7fELF";

/// Whether `data` looks like an ELF file (before parsing it).
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// One ELF file, reduced to what the comparison looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The `.comment` section's strings (compiler and linker versions), in order, once each.
    pub comment: Vec<String>,
    /// Each section's size and content digest, by name (a repeated name gets `#N`).
    pub sections: BTreeMap<String, (u64, Sha256)>,
    /// Names of the defined global symbols: the dynamic symbol table's when there is one (what
    /// the loader sees), else the static one's.
    pub exports: BTreeSet<String>,
    /// Set when the file could not be read as ELF; the rest is then empty.
    pub error: Option<String>,
}

fn bounded(bytes: &[u8]) -> String {
    crate::output::sanitize_line(&String::from_utf8_lossy(bytes))
        .chars()
        .take(MAX_STRING)
        .collect()
}

/// Reads `data` as an ELF file; never panics, whatever the bytes.
pub fn summarize(data: &[u8]) -> Summary {
    let mut out = Summary {
        comment: Vec::new(),
        sections: BTreeMap::new(),
        exports: BTreeSet::new(),
        error: None,
    };
    let file = match object::File::parse(data) {
        Ok(f) if f.format() == object::BinaryFormat::Elf => f,
        Ok(_) => {
            out.error = Some("not an ELF file".into());
            return out;
        }
        Err(e) => {
            out.error = Some(bounded(e.to_string().as_bytes()));
            return out;
        }
    };
    for section in file.sections().take(MAX_SECTIONS) {
        let name = section.name_bytes().map(bounded).unwrap_or_default();
        // NOBITS (`.bss`) has a size but no bytes in the file; a section whose bytes lie
        // outside the file is told apart by an empty digest rather than refused.
        let data = section.data().unwrap_or_default();
        if name == ".comment" {
            for s in data.split(|b| *b == 0).filter(|s| !s.is_empty()) {
                let s = bounded(s);
                if out.comment.len() < MAX_COMMENTS && !out.comment.contains(&s) {
                    out.comment.push(s);
                }
            }
        }
        let mut key = name.clone();
        let mut n = 1;
        while out.sections.contains_key(&key) {
            n += 1;
            key = format!("{name}#{n}");
        }
        out.sections.insert(key, (section.size(), Sha256::of(data)));
    }
    let symbols = if file.dynamic_symbols().next().is_some() {
        file.dynamic_symbols()
    } else {
        file.symbols()
    };
    for sym in symbols
        .filter(|s| s.is_global() && s.is_definition())
        .take(MAX_SYMBOLS)
    {
        if let Ok(name) = sym.name_bytes() {
            out.exports.insert(bounded(name));
        }
    }
    out
}

/// Names in `a` and not in `b`, at most [`SHOWN`] of them, then how many more.
fn listed<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&String> = names.collect();
    let mut shown: Vec<String> = all.iter().take(SHOWN).map(|s| s.to_string()).collect();
    if all.len() > SHOWN {
        shown.push(format!("{} more", all.len() - SHOWN));
    }
    shown.join(", ")
}

/// One line saying how two ELF files differ (`a` is the first side, as in `hermit compare A
/// B`); `None` when they are not both readable ELF files.
pub fn explain(a: &Summary, b: &Summary) -> Option<String> {
    if let (Some(e), _) | (_, Some(e)) = (&a.error, &b.error) {
        return Some(format!("native code: not a readable ELF file ({e})"));
    }
    let mut parts = Vec::new();
    let show = |c: &[String]| {
        if c.is_empty() {
            "none".to_owned()
        } else {
            c.join("; ")
        }
    };
    let toolchain = if a.comment != b.comment {
        parts.push(format!(
            "built by another toolchain (.comment: {} -> {})",
            show(&a.comment),
            show(&b.comment)
        ));
        true
    } else {
        false
    };
    if a.exports == b.exports {
        parts.push(format!(
            "exported symbols equal ({})",
            if a.exports.is_empty() {
                "none".to_owned()
            } else {
                listed(a.exports.iter())
            }
        ));
    } else {
        let mut why = "exported symbols differ".to_owned();
        let (xa, xb): (Vec<_>, Vec<_>) = (
            a.exports.difference(&b.exports).collect(),
            b.exports.difference(&a.exports).collect(),
        );
        if !xa.is_empty() {
            why += &format!(": only in A: {}", listed(xa.into_iter()));
        }
        if !xb.is_empty() {
            why += &format!(
                "{} only in B: {}",
                if why.contains(':') { ";" } else { ":" },
                listed(xb.into_iter())
            );
        }
        parts.push(why);
    }
    let changed: Vec<&String> = a
        .sections
        .iter()
        .filter(|(k, v)| b.sections.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    if !changed.is_empty() {
        parts.push(format!("sections differ: {}", listed(changed.into_iter())));
    }
    let only_a: Vec<&String> = a
        .sections
        .keys()
        .filter(|k| !b.sections.contains_key(*k))
        .collect();
    let only_b: Vec<&String> = b
        .sections
        .keys()
        .filter(|k| !a.sections.contains_key(*k))
        .collect();
    if !only_a.is_empty() {
        parts.push(format!(
            "sections only in A: {}",
            listed(only_a.into_iter())
        ));
    }
    if !only_b.is_empty() {
        parts.push(format!(
            "sections only in B: {}",
            listed(only_b.into_iter())
        ));
    }
    let head = if a.sections == b.sections {
        "native code: every section is the same"
    } else if toolchain {
        "native code differs"
    } else {
        "native code differs (same .comment)"
    };
    Some(format!("{head}: {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write::{Object as Writer, StandardSection, Symbol, SymbolSection};
    use object::{
        Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
    };

    /// A tiny relocatable ELF file: `.text` with `code`, a `.comment` naming `compiler`, and a
    /// global function per name in `exports`.
    fn elf(code: &[u8], compiler: &str, exports: &[&str]) -> Vec<u8> {
        let mut obj = Writer::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let text = obj.section_id(StandardSection::Text);
        let offset = obj.append_section_data(text, code, 16);
        let comment = obj.add_section(Vec::new(), b".comment".to_vec(), SectionKind::OtherString);
        obj.append_section_data(comment, format!("{compiler}\0").as_bytes(), 1);
        for name in exports {
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: offset,
                size: code.len() as u64,
                kind: SymbolKind::Text,
                scope: SymbolScope::Dynamic,
                weak: false,
                section: SymbolSection::Section(text),
                flags: SymbolFlags::None,
            });
        }
        obj.write().unwrap()
    }

    #[test]
    fn reads_toolchain_sections_and_exports() {
        let s = summarize(&elf(
            b"\x90\xc3",
            "GCC: (GNU) 14.2.0",
            &["PyInit__speedups"],
        ));
        assert_eq!(s.error, None);
        assert_eq!(s.comment, ["GCC: (GNU) 14.2.0"]);
        assert!(s.sections.contains_key(".text"), "{:?}", s.sections);
        assert_eq!(s.exports.iter().collect::<Vec<_>>(), ["PyInit__speedups"]);
        assert!(is_elf(&elf(b"", "x", &[])));
    }

    #[test]
    fn reads_a_shared_object_gcc_linked() {
        // The fuzz seed: `PyInit__tiny` and `helper` in a stripped gcc `-shared` build.
        let s = summarize(include_bytes!("../../../fuzz/seeds/elf/tiny.so"));
        assert_eq!(s.error, None);
        assert!(
            s.comment.iter().any(|c| c.starts_with("GCC: ")),
            "{:?}",
            s.comment
        );
        assert!(s.sections.contains_key(".dynsym"), "{:?}", s.sections);
        assert!(
            s.exports.contains("PyInit__tiny") && s.exports.contains("helper"),
            "{:?}",
            s.exports
        );
    }

    #[test]
    fn another_toolchain_is_named_with_the_sections_and_symbols() {
        let a = summarize(&elf(
            b"\x90\xc3",
            "GCC: (GNU) 10.2.1",
            &["PyInit__speedups"],
        ));
        let b = summarize(&elf(
            b"\x90\x90\xc3",
            "GCC: (Debian 14.2.0-19) 14.2.0",
            &["PyInit__speedups"],
        ));
        let why = explain(&a, &b).unwrap();
        assert!(
            why.starts_with("native code differs: built by another toolchain (.comment: GCC: (GNU) 10.2.1 -> GCC: (Debian 14.2.0-19) 14.2.0)"),
            "{why}"
        );
        assert!(
            why.contains("sections differ: ") && why.contains(".text"),
            "{why}"
        );
        assert!(
            why.contains("exported symbols equal (PyInit__speedups)"),
            "{why}"
        );
    }

    #[test]
    fn other_exports_and_the_same_toolchain_are_said() {
        let a = summarize(&elf(b"\xc3", "GCC: 14", &["PyInit_a", "shared"]));
        let b = summarize(&elf(b"\x90\xc3", "GCC: 14", &["PyInit_b", "shared"]));
        let why = explain(&a, &b).unwrap();
        assert!(
            why.starts_with("native code differs (same .comment): "),
            "{why}"
        );
        assert!(
            why.contains("exported symbols differ: only in A: PyInit_a; only in B: PyInit_b"),
            "{why}"
        );
        let same = explain(&a, &a).unwrap();
        assert!(
            same.starts_with("native code: every section is the same"),
            "{same}"
        );
    }

    #[test]
    fn hostile_bytes_are_an_error_not_a_panic() {
        let good = elf(b"\x90\xc3", "GCC", &["f"]);
        // Every truncation and a sweep of single-byte corruptions.
        for n in 0..good.len() {
            let _ = summarize(&good[..n]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = summarize(&bad);
        }
        let junk = summarize(b"\x7fELF junk");
        assert!(junk.error.is_some());
        let why = explain(&junk, &summarize(&good)).unwrap();
        assert!(
            why.starts_with("native code: not a readable ELF file"),
            "{why}"
        );
    }
}
