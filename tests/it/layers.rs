//! The architecture, checked (issue 20): the folders of `src/` are layers,
//! and imports only run down them —
//! `main.rs → app → {edge, report} → core`. `core` imports nothing outside
//! itself; `edge` and `report` import only `core`. A test module may
//! import what it likes (it is not the architecture).

use std::path::{Path, PathBuf};

/// The layers a file of `layer` may import.
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "core" => &["core"],
        "edge" => &["core", "edge"],
        "report" => &["core", "report"],
        "app" => &["core", "edge", "report", "app"],
        other => panic!("src/{other}/: not a layer; add it to tests/it/layers.rs"),
    }
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of a file without its unit tests and comments.
fn architecture_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The layers `code` names through `crate::<layer>` (or a group,
/// `crate::{core::x, edge::y}`).
fn layers_named(code: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            named.extend(
                group[..end]
                    .split(',')
                    .filter_map(|item| item.trim().split("::").next())
                    .filter(|name| !name.is_empty())
                    .map(str::to_string),
            );
        } else {
            named.push(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    named
}

#[test]
fn imports_only_run_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let mut parts = relative.components();
        let first = parts.next().unwrap().as_os_str().to_string_lossy();
        if parts.next().is_none() {
            // lib.rs, main.rs and the binary's own modules sit above the layers.
            continue;
        }
        let code = architecture_of(&std::fs::read_to_string(file).unwrap());
        for layer in layers_named(&code) {
            if !allowed(&first).contains(&layer.as_str()) {
                wrong.push(format!("{} imports crate::{layer}", relative.display()));
            }
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} files found under src/");
    assert!(
        wrong.is_empty(),
        "imports running up the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layer_check_sees_an_import_up_and_a_group() {
    let code = "use crate::core::series::Series;\nuse crate::{app::config, edge::source};\n";
    assert_eq!(layers_named(code), ["core", "app", "edge"]);
    let tested = "use crate::core::x;\n#[cfg(test)]\nmod tests {\n    use crate::app::run;\n}\n";
    assert_eq!(layers_named(&architecture_of(tested)), ["core"]);
}
