import Crypto
import Foundation
import ServiceKit

/// The OAuth `state` of a Connect authorisation: signed, bound to the user who started it and to their browser
/// (the SHA-256 of a secret only that browser holds, in a cookie), valid ten minutes, and single-use through its nonce
/// (which the database consumes). Signing and reading it do no I/O.
struct ConnectState: Codable, Equatable {
    var userID: String
    var nonce: String
    var expiresAt: Int
    /// Hex SHA-256 of the browser's binding secret.
    var browserHash: String

    static let lifetime: TimeInterval = 600

    enum Failure: Error, Equatable {
        case malformed
        case badSignature
        case expired
    }

    /// A new state and the secret its browser must send back with the callback.
    static func issue(for userID: String, now: Date = Date()) -> (state: ConnectState, browserSecret: String) {
        let secret = base64URL(Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }))
        let state = ConnectState(
            userID: userID,
            nonce: UUID().uuidString.lowercased(),
            expiresAt: Int(now.timeIntervalSince1970 + lifetime),
            browserHash: hash(secret)
        )
        return (state, secret)
    }

    static func hash(_ browserSecret: String) -> String { Data(SHA256.hash(data: Data(browserSecret.utf8))).hexString }

    /// True when the callback's browser is the one that started the authorisation. (Comparing hashes tells a timing
    /// observer nothing about the secret.)
    func isBound(to browserSecret: String?) -> Bool {
        browserSecret.map { Self.hash($0) == browserHash } ?? false
    }

    func signed(with key: SymmetricKey) throws -> String {
        let payload = try JSONEncoder().encode(self)
        let signature = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Self.base64URL(payload) + "." + Self.base64URL(Data(signature))
    }

    static func verify(_ state: String, key: SymmetricKey, now: Date = Date()) throws(Failure) -> ConnectState {
        let parts = state.split(separator: ".")
        guard parts.count == 2, let payload = Data(base64URL: String(parts[0])), let signature = Data(base64URL: String(parts[1])) else {
            throw .malformed
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: key) else { throw .badSignature }
        guard let decoded = try? JSONDecoder().decode(ConnectState.self, from: payload) else { throw .malformed }
        guard TimeInterval(decoded.expiresAt) > now.timeIntervalSince1970 else { throw .expired }
        return decoded
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "=",
            with: ""
        )
    }
}

extension Data {
    init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while !text.count.isMultiple(of: 4) { text += "=" }
        self.init(base64Encoded: text)
    }
}
