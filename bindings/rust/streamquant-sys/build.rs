// Finds libstreamquant.so: $STREAMQUANT_LIB_DIR, else `pkg-config streamquant`, else the source tree's
// build/lib. No crates.io dependencies: pkg-config is run as a command.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_libdir() -> Option<String> {
    let out = Command::new("pkg-config").args(["--variable=libdir", "streamquant"]).output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !dir.is_empty()).then_some(dir)
}

fn main() {
    println!("cargo:rerun-if-env-changed=STREAMQUANT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let default_dir = manifest.join("../../../build/lib");
    let dir = env::var("STREAMQUANT_LIB_DIR")
        .ok()
        .or_else(pkg_config_libdir)
        .or_else(|| default_dir.exists().then(|| default_dir.display().to_string()));
    match dir {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:lib_dir={dir}");
        }
        None => println!(
            "cargo:warning=libstreamquant not found: set STREAMQUANT_LIB_DIR to the directory holding libstreamquant.so"
        ),
    }
    println!("cargo:rustc-link-lib=dylib=streamquant");
}
