#[loopwork::main(loops = 0, colour = "red")]
fn main(argc: i32) {}
