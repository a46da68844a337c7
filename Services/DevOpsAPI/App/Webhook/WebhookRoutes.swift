import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// `POST /api/devops/webhook` (`webhook:write`): the DevOps module's deployment and alert events.
struct WebhookRoutes {
    let postgres: PostgresClient
    let settings: DevOpsSettings
    let usage: UsageRecorder

    struct Received: ResponseCodable, Equatable {
        var received: Bool
        var id: Int64
    }

    /// A signed body's `timestamp` must be this close to now, so a captured request cannot be replayed later.
    static let tolerance: TimeInterval = 300

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/devops/webhook") { request, context -> EditedResponse<Received> in
            let identity = try context.requireIdentity()
            guard identity.role == .apiKey, identity.scopes.contains(KeyPermission.webhookWrite.rawValue) else {
                throw APIError.forbidden("insufficient_scope", "this endpoint needs an API key with webhook:write")
            }
            let body = Data(buffer: try await request.body.collect(upTo: 256 * 1024))
            let signature = request.headers[HTTPField.Name("X-Signature")!]
            if let secret = settings.webhookSecret { try Self.checkSignature(signature, body: body, secret: secret) }
            let json: JSONValue
            do { json = try JSONDecoder().decode(JSONValue.self, from: body) } catch {
                throw APIError.badRequest("invalid_json", "the body is not valid JSON")
            }
            let event = try DevOpsEvent(json, now: Date(), requireFreshTimestamp: settings.webhookSecret != nil)
            usage.record(keyID: identity.apiKeyID.flatMap(UUID.init(uuidString:)), endpoint: "webhook")
            let id = try await store(
                event,
                body: body,
                keyID: identity.apiKeyID.flatMap(UUID.init(uuidString:)),
                signature: settings.webhookSecret == nil ? nil : signature,
                logger: context.logger
            )
            return EditedResponse(status: .accepted, response: Received(received: true, id: id))
        }
    }

    /// Stores the event, for a signed one its signature, and for an alert its `alert` on the admins' live stream, in one
    /// transaction: the same signed body a second time (a replay inside its 5 minutes) is refused with 409 and stores
    /// nothing.
    func store(_ event: DevOpsEvent, body: Data, keyID: UUID?, signature: String?, logger: Logger) async throws -> Int64 {
        try await postgres.withTransaction(logger: logger) { connection in
            var id: Int64 = 0
            for try await value in try await connection.query(
                """
                INSERT INTO devops.events
                    (event_type, key_id, environment, version, status, severity, severity_level, message, payload, occurred_at)
                VALUES (\(event.type), \(keyID), \(event.environment), \(event.version), \(event.status),
                    \(event.severity), \(event.level.map { Int16($0.rawValue) }), \(event.message), \(String(decoding: body, as: UTF8.self))::jsonb,
                    \(event.timestamp))
                RETURNING id
                """,
                logger: logger
            ).decode(Int64.self) { id = value }
            if let signature {
                try await Self.remember(signature, of: id, until: event.timestamp.addingTimeInterval(Self.tolerance), on: connection, logger: logger)
            }
            if event.type == "alert" {
                let alert = StreamAlert(
                    id: id,
                    source: "devops",
                    severity: event.severity,
                    level: event.level?.name,
                    message: event.message,
                    occurredAt: event.timestamp
                )
                try await StreamEvents.publish("alert", to: nil, payload: alert, on: connection, logger: logger)
            }
            return id
        }
    }

    /// Keeps a signed body's signature until its timestamp is too old to be accepted anyway; one already kept is a
    /// replay, refused with 409, and the caller's transaction stores nothing.
    static func remember(_ signature: String, of eventID: Int64, until expiry: Date, on connection: PostgresConnection, logger: Logger) async throws {
        let digest = Data(SHA256.hash(data: Data(signature.utf8))).hexString
        try await connection.query("DELETE FROM devops.webhook_signatures WHERE expires_at < now()", logger: logger)
        var first = false
        for try await _ in try await connection.query(
            """
            INSERT INTO devops.webhook_signatures (signature_sha256, event_id, expires_at)
            VALUES (\(digest), \(eventID), \(expiry))
            ON CONFLICT (signature_sha256) DO NOTHING
            RETURNING event_id
            """,
            logger: logger
        ).decode(Int64.self) { first = true }
        guard first else {
            throw APIError(.conflict, "webhook_replayed", "this signed webhook was already received; a replay stores nothing")
        }
    }

    static func checkSignature(_ header: String?, body: Data, secret: String) throws {
        guard let header, header.hasPrefix("sha256="), let signature = Data(hex: String(header.dropFirst(7))) else {
            throw APIError.unauthorized("missing_signature", "send X-Signature: sha256=<hex HMAC-SHA256 of the body>")
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: body, using: SymmetricKey(data: Data(secret.utf8))) else {
            throw APIError.unauthorized("invalid_signature", "the signature does not match the body")
        }
    }
}

/// `alert` on the admins' live stream: a DevOps module's alert, or a monitor's incident.
struct StreamAlert: Encodable, Sendable {
    var id: Int64
    /// `devops` for the module's webhook.
    var source: String
    var severity: String?
    /// On the one scale, `info` … `critical`.
    var level: String?
    var message: String?
    var occurredAt: Date
}

/// How serious an alert is, on one ordered scale that both vocabularies the DevOps module uses map onto.
enum AlertSeverity: Int, Comparable, CaseIterable, Sendable {
    case info, low, medium, high, critical

    /// The seed's words (`info`, `warning`, `error`, `critical`) and the older ones (`low`, `medium`, `high`).
    static let vocabulary: [String: AlertSeverity] = [
        "info": .info, "low": .low, "warning": .medium, "medium": .medium, "error": .high, "high": .high, "critical": .critical,
    ]

    init?(_ word: String) {
        guard let severity = Self.vocabulary[word.lowercased()] else { return nil }
        self = severity
    }

    var name: String { String(describing: self) }

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A deployment or alert event, checked field by field. Fields the module sends beyond these are kept in the stored
/// body, never refused. No I/O.
struct DevOpsEvent: Equatable {
    var type: String
    var environment: String?
    var version: String?
    var status: String?
    var severity: String?
    var level: AlertSeverity?
    var message: String?
    var timestamp: Date

    /// A deployment that names no environment went to production, as the seed's first example does.
    static let defaultEnvironment = "production"

    init(_ json: JSONValue, now: Date, requireFreshTimestamp: Bool) throws {
        guard case .object = json else { throw APIError.invalidPayload([FieldProblem("body", "must be a JSON object")]) }
        let data = json["data"] ?? json
        var problems: [FieldProblem] = []
        func text(_ key: String, required: Bool, max: Int = 500) -> String? {
            let value = data[key]?.string ?? json[key]?.string
            if required && (value?.isEmpty ?? true) { problems.append(FieldProblem(key, "is required")) }
            if let value, value.count > max { problems.append(FieldProblem(key, "must be at most \(max) characters")) }
            return value
        }
        type = json["event_type"]?.string ?? ""
        let stamp = text("timestamp", required: true)
        let parsed = stamp.flatMap { try? Date($0, strategy: .iso8601) }
        if stamp != nil && parsed == nil { problems.append(FieldProblem("timestamp", "must be an ISO-8601 date-time")) }
        timestamp = parsed ?? now
        switch type {
        case "deployment":
            environment = text("environment", required: false, max: 100) ?? Self.defaultEnvironment
            version = text("version", required: true, max: 100)
            status = text("status", required: true, max: 50)
        case "alert":
            severity = text("severity", required: true, max: 20)
            if let severity {
                level = AlertSeverity(severity)
                if level == nil {
                    let words = AlertSeverity.vocabulary.keys.sorted { (AlertSeverity.vocabulary[$0]!, $0) < (AlertSeverity.vocabulary[$1]!, $1) }
                    problems.append(FieldProblem("severity", "must be one of \(words.joined(separator: ", "))"))
                }
            }
            message = text("message", required: true, max: 2_000)
        default:
            throw APIError.badRequest("unknown_event_type", "event_type must be deployment or alert")
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        if requireFreshTimestamp, abs(timestamp.timeIntervalSince(now)) > WebhookRoutes.tolerance {
            throw APIError.unauthorized("stale_timestamp", "the signed timestamp is more than 5 minutes from now")
        }
    }
}
