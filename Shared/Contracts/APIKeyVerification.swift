import Foundation

/// devops-api's introspection answer for one key and scope (`POST /internal/keys/verify`), as the gateway reads it.
public struct KeyVerification: Codable, Sendable, Equatable {
    public var valid: Bool
    /// Why an invalid key is refused: `unknown`, `bad_checksum`, `expired`, `revoked` or `missing_scope`.
    public var reason: String?
    public var keyId: String?
    public var owner: String?
    public var permissions: [String]?

    public init(valid: Bool, reason: String? = nil, keyId: String? = nil, owner: String? = nil, permissions: [String]? = nil) {
        self.valid = valid
        self.reason = reason
        self.keyId = keyId
        self.owner = owner
        self.permissions = permissions
    }
}

