//! Compiles the translations (`po/*.po`) with GNU gettext's `msgfmt` into
//! `OUT_DIR/locale/LANG/LC_MESSAGES/latchkey-ui.mo`, where a build run from its target directory
//! finds them. Without `msgfmt` the prompt builds in English only (and says so).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=po");
    let Ok(out) = std::env::var("OUT_DIR") else {
        return;
    };
    let Ok(entries) = std::fs::read_dir("po") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("po") {
            continue;
        }
        let Some(lang) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let dir = Path::new(&out)
            .join("locale")
            .join(lang)
            .join("LC_MESSAGES");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            println!("cargo:warning=cannot create {}: {e}", dir.display());
            continue;
        }
        let status = Command::new("msgfmt")
            .arg("--check")
            .arg("-o")
            .arg(dir.join("latchkey-ui.mo"))
            .arg(&path)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => println!("cargo:warning=msgfmt failed on {} ({s})", path.display()),
            Err(e) => {
                println!("cargo:warning=msgfmt not found ({e}): install gettext for translations")
            }
        }
    }
}
