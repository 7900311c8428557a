//! Loads rules files and prints the diagnostics and counts (a library-level `vigil rules
//! validate`, handy while the CLI is being built).

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    match vigil_rules::load_files(&paths, &vigil_rules::LoadOptions::default()) {
        Ok(l) => {
            for w in &l.warnings {
                println!("{w}");
            }
            println!("{:?}", l.ruleset.counts());
        }
        Err(d) => {
            println!("{d}");
            std::process::exit(1);
        }
    }
}
