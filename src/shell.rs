//! `completions` and `man`: the shell completion scripts and the man pages, generated from
//! the same clap definition as `--help` (clap_complete, clap_mangen), so they can never
//! drift from the real options.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell` (rendered in memory: clap_complete panics on a
/// write error, and `loadtester completions bash | head` must not).
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "loadtester", &mut script);
    script
}

/// Write `loadtester.1` and one `loadtester-SUBCOMMAND.1` per subcommand into `dir`
/// (created if missing); returns the files written.
pub fn man_pages(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), dir)
        .map_err(|e| format!("cannot write man pages into `{}`: {e}", dir.display()))?;
    let mut names = vec![format!("{}.1", cmd.get_name())];
    names.extend(
        cmd.get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| format!("{}-{}.1", cmd.get_name(), s.get_name())),
    );
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// Render the top-level page `loadtester(1)` to `out`.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
