#[loopwork::test]
async fn generic<T: Default>() {}

fn main() {}
