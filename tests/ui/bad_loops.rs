#[loopwork::test(loops = 0)]
async fn no_loops() {}

#[loopwork::test(loops = "four")]
async fn loops_as_a_string() {}

#[loopwork::test(loops = 2, loops = 3)]
async fn loops_twice() {}

fn main() {}
