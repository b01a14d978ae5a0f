//! Build images: digest-only references, recipes, reproducible archives.
