#[loopwork::test(debug = 1)]
async fn debug_as_a_number() {}

#[loopwork::test(debug)]
async fn debug_without_a_value() {}

fn main() {}
