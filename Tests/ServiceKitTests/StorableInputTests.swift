import Testing

@testable import ServiceKit

@Suite struct StorableInputTests {
    func problem(_ json: String) -> FieldProblem? { StorableInput.problem(inBody: Array(json.utf8)) }

    @Test func storableBodiesPass() {
        #expect(problem(#"{"name": "Zoë \ud83d\ude00", "list": [1, "two", {"three": null}], "escaped": "a\"b\\c"}"#) == nil)
        #expect(problem("") == nil)
        #expect(problem("not json at all") == nil, "malformed JSON is left to the route's decoder")
    }

    @Test func aNULIsNamedByItsField() {
        #expect(problem(#"{"customer": {"email": "a\u0000b"}}"#) == FieldProblem("customer.email", StorableInput.nulProblem))
        #expect(problem(#"{"photos": ["ok", "bad\u0000"]}"#) == FieldProblem("photos[1]", StorableInput.nulProblem))
        #expect(problem(#"{"a": 1, "b": [{"c": "x"}, {"d": "\u0000"}]}"#) == FieldProblem("b[1].d", StorableInput.nulProblem))
        #expect(StorableInput.problem(inBody: Array(#"{"raw": "x"#.utf8) + [0] + Array(#""}"#.utf8)) == FieldProblem("raw", StorableInput.nulProblem))
    }

    @Test func unpairedSurrogatesAreRefused() {
        #expect(problem(#"{"note": "\ud800"}"#) == FieldProblem("note", StorableInput.surrogateProblem))
        #expect(problem(#"{"note": "\udc00x"}"#) == FieldProblem("note", StorableInput.surrogateProblem))
        #expect(problem(#"{"note": "\ud800\u0041"}"#) == FieldProblem("note", StorableInput.surrogateProblem))
    }

    @Test func nestingDeeperThan64IsRefused() {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(problem(ok) == nil)
        #expect(problem(deep) == FieldProblem(String(repeating: "[0]", count: 64), StorableInput.depthProblem))
    }

    @Test func bodiesThatAreNotUTF8AreRefused() {
        #expect(StorableInput.problem(inBody: [0x7B, 0xFF, 0x7D]) == FieldProblem("body", "is not UTF-8 text"))
    }
}
