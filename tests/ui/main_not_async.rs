#[loopwork::main]
fn main() {}
