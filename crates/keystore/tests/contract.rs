#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The `CredentialStore` contract suite against `FileStore` with both protections.

mod common;

mod file_pin {
    use super::common::{contract::Flavour, fast_options};
    use latchkey_keystore::{FileStore, FileStoreOptions, Protection};
    use std::path::Path;

    fn open(dir: &Path, max: usize) -> FileStore {
        let opts = FileStoreOptions {
            max_discoverable: max,
            ..fast_options()
        };
        FileStore::open_with(dir, Protection::Pin, opts).unwrap()
    }

    crate::contract_suite!((), |_: &(), d, m| open(d, m), Flavour { locks_keys: true });
}

mod file_none {
    use super::common::{contract::Flavour, fast_options};
    use latchkey_keystore::{FileStore, FileStoreOptions, Protection};
    use std::path::Path;

    fn open(dir: &Path, max: usize) -> FileStore {
        let opts = FileStoreOptions {
            max_discoverable: max,
            ..fast_options()
        };
        FileStore::open_with(dir, Protection::None, opts).unwrap()
    }

    crate::contract_suite!((), |_: &(), d, m| open(d, m), Flavour { locks_keys: false });
}
