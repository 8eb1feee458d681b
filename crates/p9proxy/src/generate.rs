//! `p9proxy __generate DIR`: man pages and shell completions from the command line's
//! definitions (for packaging: `scripts/build-deb.sh` runs it before `cargo deb`).
//!
//! Writes `DIR/man/p9proxy.1` and one page per subcommand (`p9proxy-serve.1`, ...),
//! `DIR/man/virtfs-proxy-helper.1` (the helper shipped alongside), and
//! `DIR/completions/{p9proxy.bash,_p9proxy,p9proxy.fish}`.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::command;

/// Writes the man pages and completions under `dir`.
pub fn run(dir: &Path) -> Result<(), String> {
    let err = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let man = dir.join("man");
    let comp = dir.join("completions");
    for d in [&man, &comp] {
        std::fs::create_dir_all(d).map_err(|e| err(&d.display().to_string(), e))?;
    }
    clap_mangen::generate_to(command(), &man).map_err(|e| err("man pages", e))?;
    let helper = man.join("virtfs-proxy-helper.1");
    let mut page = Vec::new();
    clap_mangen::Man::new(proxy_helper::cli::Cli::command())
        .render(&mut page)
        .and_then(|()| std::fs::write(&helper, page))
        .map_err(|e| err(&helper.display().to_string(), e))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command(), "p9proxy", &comp)
            .map_err(|e| err(&format!("{shell} completion"), e))?;
    }
    Ok(())
}
