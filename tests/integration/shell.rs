//! `completions` and `man`: the generated script is sourced by a real bash, the pages are
//! rendered by a real `man -l`.

use crate::common::{bin, run, tempdir};

#[test]
fn bash_sources_the_completion_script() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let dir = tempdir();
    let script = dir.path().join("loadtester.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let shown = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(format!(
            "source '{}' && complete -p loadtester",
            script.display()
        ))
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{shown:?}");
    assert!(
        text.contains("complete") && text.contains("loadtester"),
        "{text}"
    );
    // The script offers the subcommands and the long options.
    let script = String::from_utf8_lossy(&out.stdout);
    for word in [
        "validate",
        "compare",
        "completions",
        "--plan",
        "--color",
        "--seed",
    ] {
        assert!(script.contains(word), "completion script lacks {word}");
    }
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("loadtester"),
            "{shell}"
        );
    }
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn man_pages_render_with_man() {
    let dir = tempdir();
    let out = bin()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for page in [
        "loadtester.1",
        "loadtester-run.1",
        "loadtester-validate.1",
        "loadtester-man.1",
    ] {
        let path = dir.path().join(page);
        assert!(path.exists(), "{page} not written");
        let shown = std::process::Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man runs");
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.status.success(), "{page}: {shown:?}");
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{page}: {text}"
        );
    }
    let run_page = std::process::Command::new("man")
        .arg("-l")
        .arg(dir.path().join("loadtester-run.1"))
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run_page.stdout).contains("--threshold"));
    // Without --out-dir: the top page on stdout.
    let out = run(&["man"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH loadtester"));
}
