//! The await graph as a drawing: a forest like `pstree`, and its cycles.
//!
//! Knows nodes only by a key and their labels (the runtime builds them from
//! the task directory): an edge goes from an awaiter to what it awaits.
//!
//! # Invariants of the drawing
//! * Roots are the nodes nobody (in the snapshot) awaits: root tasks and
//!   foreign threads blocked on the runtime, threads first.
//! * Each node is drawn in full once; met again (a second awaiter, or the
//!   way back round a cycle) it is drawn as its short name marked
//!   `(shown above)`, so the output is finite whatever the graph.
//! * Every cycle is printed as one line, `await-graph cycle (deadlock): A →
//!   B → A` (an arrow reads "awaits"), and the nodes on cycles are drawn
//!   after the forest, so nothing is hidden by a deadlock (asyncio refuses
//!   to draw a graph with a cycle).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// One node of the graph.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Unique among the nodes (a task id, or a foreign waiter's key).
    pub(crate) key: u64,
    /// The full line drawn for it.
    pub(crate) label: String,
    /// How a cycle line or a repeat names it (`Task #2 'a'`).
    pub(crate) short: String,
    /// The nodes that await this one.
    pub(crate) awaiters: Vec<u64>,
    /// Named await points (`frame`), outermost first: drawn as a chain
    /// under the node, with what it awaits and its leaves under the last.
    pub(crate) frames: Vec<String>,
    /// Lines drawn under it, after what it awaits (its leaf).
    pub(crate) leaves: Vec<String>,
    /// Drawn before other roots (foreign threads).
    pub(crate) first: bool,
}

/// The cycles of the graph, each as node indices in await order (each
/// awaits the next; the last awaits the first). One cycle per set of nodes.
pub(crate) fn cycles(nodes: &[Node]) -> Vec<Vec<usize>> {
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.key, i)).collect();
    let children = children(nodes, &index);
    // Iterative DFS with colours: 0 new, 1 on the stack, 2 done. A back
    // edge to a node on the stack closes a cycle: the stack from it.
    let mut colour = vec![0u8; nodes.len()];
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut seen_sets: HashSet<Vec<usize>> = HashSet::new();
    for start in 0..nodes.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = children[node].get(*next) {
                *next += 1;
                match colour[child] {
                    0 => {
                        colour[child] = 1;
                        stack.push((child, 0));
                    }
                    1 => {
                        let from = stack
                            .iter()
                            .position(|&(n, _)| n == child)
                            .expect("on stack");
                        let cycle: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                        let mut set = cycle.clone();
                        set.sort_unstable();
                        if seen_sets.insert(set) {
                            found.push(cycle);
                        }
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                stack.pop();
            }
        }
    }
    found
}

/// `A → B → A`, with the nodes' short names.
pub(crate) fn cycle_line(nodes: &[Node], cycle: &[usize]) -> String {
    let mut line = String::new();
    for &i in cycle {
        let _ = write!(line, "{} → ", nodes[i].short);
    }
    line.push_str(&nodes[cycle[0]].short);
    line
}

/// Draws the forest (see the module docs).
pub(crate) fn render(nodes: &[Node], out: &mut String) {
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.key, i)).collect();
    let children = children(nodes, &index);
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].awaiters.iter().all(|a| !index.contains_key(a)))
        .collect();
    roots.sort_by_key(|&i| (!nodes[i].first, nodes[i].key));
    let mut drawn = vec![false; nodes.len()];
    for r in roots {
        draw(nodes, &children, r, "", None, &mut drawn, out);
    }
    let cycles = cycles(nodes);
    for cycle in &cycles {
        let _ = writeln!(
            out,
            "await-graph cycle (deadlock): {}",
            cycle_line(nodes, cycle)
        );
    }
    for cycle in &cycles {
        for &i in cycle {
            if !drawn[i] {
                draw(nodes, &children, i, "", None, &mut drawn, out);
            }
        }
    }
    // Anything left hangs below a cycle and was drawn with it; this is a
    // last guard so no node is ever missing from a dump.
    for i in 0..nodes.len() {
        if !drawn[i] {
            draw(nodes, &children, i, "", None, &mut drawn, out);
        }
    }
}

fn children(nodes: &[Node], index: &HashMap<u64, usize>) -> Vec<Vec<usize>> {
    let mut children = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for a in &n.awaiters {
            if let Some(&p) = index.get(a) {
                children[p].push(i);
            }
        }
    }
    for c in &mut children {
        c.sort_by_key(|&i| nodes[i].key);
        c.dedup();
    }
    children
}

/// Draws `node` and, the first time, what it awaits. `last`: `None` for a
/// root, else whether it is its parent's last child.
fn draw(
    nodes: &[Node],
    children: &[Vec<usize>],
    node: usize,
    prefix: &str,
    last: Option<bool>,
    drawn: &mut [bool],
    out: &mut String,
) {
    let (branch, child_prefix) = match last {
        None => ("", String::new()),
        Some(true) => ("└── ", format!("{prefix}    ")),
        Some(false) => ("├── ", format!("{prefix}│   ")),
    };
    if drawn[node] {
        let _ = writeln!(out, "{prefix}{branch}{} (shown above)", nodes[node].short);
        return;
    }
    drawn[node] = true;
    let _ = writeln!(out, "{prefix}{branch}{}", nodes[node].label);
    let mut child_prefix = child_prefix;
    for frame in &nodes[node].frames {
        let _ = writeln!(out, "{child_prefix}└── {frame}");
        child_prefix.push_str("    ");
    }
    let kids = &children[node];
    let leaves = &nodes[node].leaves;
    let total = kids.len() + leaves.len();
    for (k, &child) in kids.iter().enumerate() {
        draw(
            nodes,
            children,
            child,
            &child_prefix,
            Some(k + 1 == total),
            drawn,
            out,
        );
    }
    for (k, leaf) in leaves.iter().enumerate() {
        let branch = if kids.len() + k + 1 == total {
            "└── "
        } else {
            "├── "
        };
        let _ = writeln!(out, "{child_prefix}{branch}{leaf}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: u64, awaiters: &[u64]) -> Node {
        Node {
            key,
            label: format!("Task #{key} [waiting]"),
            short: format!("Task #{key}"),
            awaiters: awaiters.to_vec(),
            frames: Vec::new(),
            leaves: Vec::new(),
            first: false,
        }
    }

    #[test]
    fn a_forest_draws_each_awaited_node_under_its_awaiter_and_leaves_last() {
        let mut root = node(1, &[]);
        root.leaves.push("Sleep created at src/x.rs:1:1".into());
        let nodes = vec![root, node(2, &[1]), node(3, &[2])];
        let mut out = String::new();
        render(&nodes, &mut out);
        assert_eq!(
            out,
            "Task #1 [waiting]\n\
             ├── Task #2 [waiting]\n\
             │   └── Task #3 [waiting]\n\
             └── Sleep created at src/x.rs:1:1\n"
        );
        assert!(cycles(&nodes).is_empty());
    }

    #[test]
    fn frames_are_drawn_between_a_node_and_what_it_awaits() {
        let mut root = node(1, &[]);
        root.frames = vec!["frame 'outer'".into(), "frame 'inner'".into()];
        root.leaves.push("yield_now".into());
        let nodes = vec![root, node(2, &[1])];
        let mut out = String::new();
        render(&nodes, &mut out);
        assert_eq!(
            out,
            "Task #1 [waiting]\n\
             └── frame 'outer'\n\
             \x20   └── frame 'inner'\n\
             \x20       ├── Task #2 [waiting]\n\
             \x20       └── yield_now\n"
        );
    }

    #[test]
    fn a_node_with_two_awaiters_is_drawn_under_both_and_marked_the_second_time() {
        let nodes = vec![node(1, &[]), node(2, &[]), node(3, &[1, 2])];
        let mut out = String::new();
        render(&nodes, &mut out);
        assert_eq!(
            out,
            "Task #1 [waiting]\n\
             └── Task #3 [waiting]\n\
             Task #2 [waiting]\n\
             └── Task #3 (shown above)\n"
        );
    }

    #[test]
    fn a_two_cycle_is_reported_and_the_rest_of_the_forest_is_still_drawn() {
        // 2 awaits 3, 3 awaits 2; 1 is an unrelated root.
        let nodes = vec![node(1, &[]), node(2, &[3]), node(3, &[2])];
        let found = cycles(&nodes);
        assert_eq!(found.len(), 1);
        assert_eq!(cycle_line(&nodes, &found[0]), "Task #2 → Task #3 → Task #2");
        let mut out = String::new();
        render(&nodes, &mut out);
        assert!(out.starts_with("Task #1 [waiting]\n"), "{out}");
        assert!(
            out.contains("await-graph cycle (deadlock): Task #2 → Task #3 → Task #2\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "Task #2 [waiting]\n└── Task #3 [waiting]\n    └── Task #2 (shown above)\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_three_cycle_is_one_cycle_in_await_order() {
        // 5 awaits 6, 6 awaits 7, 7 awaits 5; 8 hangs below 7.
        let nodes = vec![node(5, &[7]), node(6, &[5]), node(7, &[6]), node(8, &[7])];
        let found = cycles(&nodes);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            cycle_line(&nodes, &found[0]),
            "Task #5 → Task #6 → Task #7 → Task #5"
        );
        let mut out = String::new();
        render(&nodes, &mut out);
        assert!(out.contains("Task #8 [waiting]"), "nothing hidden: {out}");
    }
}
