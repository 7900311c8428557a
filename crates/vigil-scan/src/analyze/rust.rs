//! Rust: `Cargo.lock` files. (Binaries built with cargo-auditable are handled in `binary`.)

use super::Outcome;

pub fn parse_cargo_lock(path: &str, data: &[u8], out: &mut Outcome) {
    super::python::parse_cargo_like(path, data, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock() {
        let mut out = Outcome::default();
        parse_cargo_lock(
            "Cargo.lock",
            b"version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
            &mut out,
        );
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].name, "smallvec");
    }
}
