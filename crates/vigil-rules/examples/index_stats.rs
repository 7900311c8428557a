//! Prints, for the given rules files, how many enabled rules each event type is checked
//! against (the work `evaluate` does per event of that type).

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let l = match vigil_rules::load_files(&paths, &vigil_rules::LoadOptions::default()) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            std::process::exit(1);
        }
    };
    for (t, n) in l.ruleset.rules_per_type() {
        println!("{:>16} {n}", t.name());
    }
}
