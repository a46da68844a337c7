import Contracts
import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit

/// Key management for admins, and the gateway's introspection endpoint.
struct KeyRoutes {
    let postgres: PostgresClient

    struct GenerateRequest: Decodable {
        var name: String
        var permissions: [String]?
        var expiresInDays: Int?
    }

    struct GeneratedKey: ResponseCodable, Equatable {
        var id: UUID
        /// Shown this once; only its hash is stored.
        var key: String
        var name: String
        var permissions: [String]
        var expiresAt: Date
    }

    struct KeySummary: Codable, Equatable {
        var id: UUID
        var name: String
        var prefix: String
        var owner: String
        var permissions: [String]
        var createdAt: Date
        var expiresAt: Date
        var revokedAt: Date?
        var usageCount: Int64
        var lastUsedAt: Date?
        var status: String
    }

    struct KeyList: ResponseCodable { var keys: [KeySummary] }

    struct VerifyRequest: Decodable {
        var key: String
        var scope: String
    }

    static let maxExpiryDays = 730

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/devops/generate-key") { request, context -> EditedResponse<GeneratedKey> in
            let admin = try context.requireAdmin()
            let body = try await request.decode(as: GenerateRequest.self, context: context)
            let (name, permissions, days) = try Self.validate(body)
            let key = APIKeyFormat.generate()
            let id = UUID()
            let expiresAt = try await postgres.withTransaction(logger: context.logger) { connection in
                var expiresAt = Date()
                for try await value in try await connection.query(
                    """
                    INSERT INTO devops.api_keys (id, key_sha256, display_prefix, name, owner, permissions, expires_at)
                    VALUES (\(id), \(APIKeyFormat.hash(key)), \(APIKeyFormat.displayPrefix(key)), \(name), \(admin.subject), \(permissions),
                        now() + make_interval(days => \(days)::integer))
                    RETURNING expires_at
                    """,
                    logger: context.logger
                ).decode(Date.self) { expiresAt = value }
                let details = String(decoding: try JSONEncoder().encode(["name": name, "permissions": permissions.joined(separator: " ")]), as: UTF8.self)
                try await connection.query(
                    "INSERT INTO devops.key_audit_log (key_id, action, actor, details) VALUES (\(id), 'created', \(admin.subject), \(details)::jsonb)",
                    logger: context.logger
                )
                return expiresAt
            }
            return EditedResponse(status: .created, response: GeneratedKey(id: id, key: key, name: name, permissions: permissions, expiresAt: expiresAt))
        }
        router.get("/api/devops/keys") { _, context -> KeyList in
            _ = try context.requireAdmin()
            return KeyList(keys: try await Self.keys(postgres: postgres, logger: context.logger))
        }
        router.delete("/api/devops/keys/{id}") { _, context -> HTTPResponse.Status in
            let admin = try context.requireAdmin()
            guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw APIError.notFound("no such key") }
            try await postgres.withTransaction(logger: context.logger) { connection in
                var revoked = false
                for try await _ in try await connection.query(
                    "UPDATE devops.api_keys SET revoked_at = now() WHERE id = \(id) AND revoked_at IS NULL RETURNING id",
                    logger: context.logger
                ) { revoked = true }
                guard revoked else {
                    var exists = false
                    for try await _ in try await connection.query("SELECT id FROM devops.api_keys WHERE id = \(id)", logger: context.logger) { exists = true }
                    if exists { return }  // Revoking twice is the same as once.
                    throw APIError.notFound("no such key")
                }
                try await connection.query(
                    "INSERT INTO devops.key_audit_log (key_id, action, actor) VALUES (\(id), 'revoked', \(admin.subject))",
                    logger: context.logger
                )
            }
            return .noContent
        }
        router.post("/internal/keys/verify") { request, context -> KeyVerification in
            let caller = try context.requireService()
            guard caller.subject == "service:gateway" else { throw APIError.forbidden("gateway_only", "only the gateway verifies keys") }
            let body = try await request.decode(as: VerifyRequest.self, context: context)
            return try await Self.verify(key: body.key, scope: body.scope, postgres: postgres, logger: context.logger)
        }
    }

    static func validate(_ body: GenerateRequest) throws -> (String, [String], Int) {
        var problems: [FieldProblem] = []
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 100 { problems.append(FieldProblem("name", "must be 1 to 100 characters")) }
        let permissions = body.permissions ?? KeyPermission.allCases.map(\.rawValue)
        let unknown = permissions.filter { KeyPermission(rawValue: $0) == nil }
        if !unknown.isEmpty {
            problems.append(FieldProblem("permissions", "unknown \(unknown.joined(separator: ", ")); allowed: \(KeyPermission.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        if permissions.isEmpty { problems.append(FieldProblem("permissions", "must not be empty")) }
        let days = body.expiresInDays ?? 365
        if !(1...maxExpiryDays).contains(days) { problems.append(FieldProblem("expiresInDays", "must be 1 to \(maxExpiryDays)")) }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        return (name, Array(Set(permissions)).sorted(), days)
    }

    static func verify(key: String, scope: String, postgres: PostgresClient, logger: Logger) async throws -> KeyVerification {
        guard APIKeyFormat.isWellFormed(key) else { return KeyVerification(valid: false, reason: "bad_checksum") }
        let rows = try await postgres.query(
            """
            SELECT id, owner, permissions, expires_at <= now(), revoked_at IS NOT NULL FROM devops.api_keys
            WHERE key_sha256 = \(APIKeyFormat.hash(key))
            """,
            logger: logger
        )
        for try await (id, owner, permissions, expired, revoked) in rows.decode((UUID, String, [String], Bool, Bool).self) {
            let keyID = id.uuidString.lowercased()
            if revoked { return KeyVerification(valid: false, reason: "revoked", keyId: keyID) }
            if expired { return KeyVerification(valid: false, reason: "expired", keyId: keyID) }
            guard permissions.contains(scope) else { return KeyVerification(valid: false, reason: "missing_scope", keyId: keyID, permissions: permissions) }
            return KeyVerification(valid: true, keyId: keyID, owner: owner, permissions: permissions)
        }
        return KeyVerification(valid: false, reason: "unknown")
    }

    static func keys(postgres: PostgresClient, logger: Logger) async throws -> [KeySummary] {
        var keys: [KeySummary] = []
        for try await row in try await postgres.query(
            """
            SELECT id, name, display_prefix, owner, permissions, created_at, expires_at, revoked_at, usage_count, last_used_at
            FROM devops.api_keys ORDER BY created_at DESC
            """,
            logger: logger
        ).decode((UUID, String, String, String, [String], Date, Date, Date?, Int64, Date?).self) {
            let status = row.7 != nil ? "revoked" : (row.6 <= Date() ? "expired" : "active")
            keys.append(
                KeySummary(
                    id: row.0, name: row.1, prefix: row.2, owner: row.3, permissions: row.4, createdAt: row.5, expiresAt: row.6,
                    revokedAt: row.7, usageCount: row.8, lastUsedAt: row.9, status: status
                )
            )
        }
        return keys
    }
}

extension KeyVerification: ResponseEncodable {}
