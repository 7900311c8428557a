//! Compiles the C eBPF programs in `src/bpf/` with clang into `$OUT_DIR/vigil.bpf.o` (kfuncs)
//! and `$OUT_DIR/vigil-compat.bpf.o` (helper calls only), and the start-up probe of the kfunc
//! (`kfunc_probe.bpf.o`), which `src/lib.rs` embeds with `include_bytes!`.
//!
//! We compile C with clang rather than writing the kernel side in Rust (aya-bpf): CO-RE
//! relocations from `preserve_access_index` structs are mature in clang, and the kernel side
//! stays readable for people who know Falco's and Tetragon's C probes.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let src = PathBuf::from("src/bpf/vigil.bpf.c");
    for f in [
        "src/bpf/vigil.bpf.c",
        "src/bpf/vigil_records.h",
        "src/bpf/vigil_kfunc.h",
        "src/bpf/kfunc_probe.bpf.c",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=VIGIL_CLANG");
    println!("cargo:rerun-if-env-changed=VIGIL_BPF_CFLAGS");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = find_clang().unwrap_or_else(|| {
        panic!(
            "vigil-bpf: no clang found (tried $VIGIL_CLANG, clang, clang-14..clang-19). \
             The eBPF programs are C compiled by clang: install it (Debian: `apt-get install \
             clang-14 libbpf-dev`, see scripts/setup.sh) or point VIGIL_CLANG at a clang binary."
        )
    });
    for header in ["/usr/include/bpf/bpf_helpers.h", "/usr/include/linux/bpf.h"] {
        if !std::path::Path::new(header).exists() {
            panic!(
                "vigil-bpf: {header} is missing. Install libbpf-dev and linux-libc-dev \
                 (see scripts/setup.sh)."
            );
        }
    }
    // Two objects from one source: one reads kernel structures through the bpf_rdonly_cast
    // kfunc (Linux 6.2+), the other through helper calls only (older kernels).
    compile(&clang, &src, &out_dir.join("vigil.bpf.o"), &["-DVG_KFUNC"]);
    compile(&clang, &src, &out_dir.join("vigil-compat.bpf.o"), &[]);
    let probe = PathBuf::from("src/bpf/kfunc_probe.bpf.c");
    compile(&clang, &probe, &out_dir.join("kfunc_probe.bpf.o"), &[]);
}

fn compile(clang: &str, src: &Path, out: &Path, defines: &[&str]) {
    let arch_inc = format!("/usr/include/{}-linux-gnu", env::consts::ARCH);
    // Extra flags for measurements, e.g. VIGIL_BPF_CFLAGS=-DVG_CUT=1 (see vigil_sys_exit).
    let extra = env::var("VIGIL_BPF_CFLAGS").unwrap_or_default();
    let status = Command::new(clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
        .args(defines)
        .args(extra.split_whitespace())
        .arg(format!("-I{arch_inc}"))
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("vigil-bpf: could not run {clang}: {e}"));
    if !status.success() {
        panic!(
            "vigil-bpf: {clang} failed to compile {} {defines:?} ({status})",
            src.display()
        );
    }
}

fn find_clang() -> Option<String> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(c) = env::var_os("VIGIL_CLANG") {
        candidates.push(c.to_string_lossy().into_owned());
    }
    candidates.push("clang".into());
    for v in (14..=19).rev() {
        candidates.push(format!("clang-{v}"));
    }
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}
