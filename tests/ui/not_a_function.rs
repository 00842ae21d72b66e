#[loopwork::main]
struct Server;

fn main() {}
