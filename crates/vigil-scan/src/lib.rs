//! `vigil-scan`: image inventory, SBOM, secrets and vulnerability matching.
pub mod error;
pub mod package;
pub mod vfs;
pub mod os { #[derive(Debug, Default, Clone)] pub struct OsInfo { pub id: String, pub version_id: String } }
