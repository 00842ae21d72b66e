//! The source obeys the layering written in `src/lib.rs`: a module imports
//! only from its own layer or below, and no two modules import each other
//! in a circle. This reads `src/` as text (every `crate::<module>` path in
//! code, comments left out) and fails on a new import that runs back up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom (0) to top, as written in `src/lib.rs`. The crate root files
/// (`lib.rs`, `loom_api.rs`, `macros.rs`) are above every layer.
const LAYERS: &[(&str, u32)] = &[
    ("sync", 0),
    ("debug", 0),
    ("task", 1),
    ("scheduler", 2),
    ("reactor", 3),
    ("runtime", 4),
    ("time", 5),
    ("net", 5),
    ("blocking", 5),
    ("handoff", 5),
    ("signal", 5),
    ("process", 5),
    ("hyper", 5),
    ("guide", 5),
];
const TOP: u32 = 6;

fn layer_of(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: a root file).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts = rel.components();
    let first = parts.next()?.as_os_str().to_str()?.to_owned();
    if parts.next().is_some() {
        return Some(first);
    }
    match first.trim_end_matches(".rs") {
        "lib" | "loom_api" | "macros" => None,
        other => Some(other.to_owned()),
    }
}

/// The top-level modules a file names as `crate::<module>`, outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` groups.
            if after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split(',') {
                    let item = item.trim();
                    let head: String = item
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !head.is_empty() {
                        found.insert(head);
                    }
                }
            } else if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// module -> (imported module -> files that import it)
fn import_graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        for target in imports(&text) {
            if target != module && layer_of(&target).is_some() {
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(target)
                    .or_default()
                    .insert(file.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    graph
}

#[test]
fn every_source_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        if let Some(module) = module_of(&src, &file) {
            assert!(
                layer_of(&module).is_some(),
                "src/{module} is in no layer: add it to src/lib.rs's layering and to LAYERS here"
            );
        }
    }
    assert!(LAYERS.iter().all(|&(_, l)| l < TOP));
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let mut upward = Vec::new();
    for (module, targets) in import_graph() {
        let from = layer_of(&module).unwrap();
        for (target, files) in targets {
            let to = layer_of(&target).unwrap();
            if to > from {
                upward.push(format!(
                    "{module} (layer {from}) imports {target} (layer {to}) in {files:?}"
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run back up the layering of src/lib.rs:\n{}\n(a lower layer gets what it \
         needs from a higher one through a trait or a function it is handed)",
        upward.join("\n")
    );
}

#[test]
fn no_two_modules_import_each_other_in_a_circle() {
    let graph = import_graph();
    // Depth-first search for a back edge, reporting the circle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut circle = path[i..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("an import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_grouped_and_plain_imports_and_skips_comments() {
    let found = imports(
        "use crate::sync::Arc;\nuse crate::{task, runtime::Handle};\n// crate::net in a comment\n",
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["runtime", "sync", "task"]
    );
}
