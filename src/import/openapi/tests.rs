use super::*;

#[test]
fn globs() {
    assert!(glob("/pets/*", "/pets/{id}"));
    assert!(glob("/pets*", "/pets"));
    assert!(!glob("/pets/?", "/pets/ab"));
}
