import Crypto
import Foundation
import Testing

@testable import StripeSync

@Suite struct ConnectStateTests {
    let key = SymmetricKey(data: Data(repeating: 1, count: 32))

    @Test func aSignedStateReadsBack() throws {
        let (state, _) = ConnectState.issue(for: "user-1")
        #expect(try ConnectState.verify(try state.signed(with: key), key: key) == state)
    }

    @Test func aStateIsBoundToTheSecretOfTheBrowserThatAskedForIt() {
        let (state, secret) = ConnectState.issue(for: "user-1")
        #expect(state.isBound(to: secret))
        #expect(!state.isBound(to: ConnectState.issue(for: "user-1").browserSecret))
        #expect(!state.isBound(to: nil))
        #expect(!state.browserHash.contains(secret), "only the secret's hash travels in the state")
    }

    @Test func tamperedForeignAndExpiredStatesAreRefused() throws {
        let now = Date()
        let signed = try ConnectState.issue(for: "user-1", now: now).state.signed(with: key)
        let forged = try ConnectState(userID: "user-2", nonce: "n", expiresAt: Int(now.timeIntervalSince1970) + 600, browserHash: "")
            .signed(with: SymmetricKey(data: Data(repeating: 2, count: 32)))
        #expect(throws: ConnectState.Failure.badSignature) { try ConnectState.verify(forged, key: key) }
        var tampered = Array(signed)
        tampered[3] = tampered[3] == "A" ? "B" : "A"
        #expect(throws: ConnectState.Failure.self) { try ConnectState.verify(String(tampered), key: key) }
        #expect(throws: ConnectState.Failure.expired) { try ConnectState.verify(signed, key: key, now: now.addingTimeInterval(601)) }
        #expect(throws: ConnectState.Failure.malformed) { try ConnectState.verify("not-a-state", key: key) }
    }
}
