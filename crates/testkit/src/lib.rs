//! What Latchkey's test suites and its benchmark share, so that no suite sets up a bus, a
//! latchkeyd or a prompt its own way. A dev-dependency only: no shipped binary links it.
#![deny(unsafe_code)] // one query of the kernel, in [`landlock_abi`]

pub mod bins;

/// The Landlock ABI this kernel supports (`landlock_create_ruleset` version query), 0 without.
pub fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no ruleset attributes (NULL, size 0).
    #[allow(unsafe_code)]
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}
