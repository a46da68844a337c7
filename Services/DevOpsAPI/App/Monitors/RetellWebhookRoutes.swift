import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// `POST /api/ops/retell/webhook/{id}`: Retell's call webhooks for one Retell integration (the URL to give Retell is
/// shown nowhere else: the integration's id names it). `X-Retell-Signature` is checked against that integration's
/// API key before anything is read; `call_ended` and `call_analyzed` bring its next collection forward (at most one a
/// minute, however many calls end), so the numbers follow the calls without polling harder.
struct RetellWebhookRoutes {
    let queries: IntegrationQueries?

    /// Retell signs `body + timestamp` and sends `v=<milliseconds>,d=<hex HMAC-SHA256 under the API key>`.
    enum Signature {
        static let tolerance: TimeInterval = 300

        static func isValid(_ header: String?, body: Data, apiKey: String, now: Date) -> Bool {
            guard let header, let match = header.wholeMatch(of: /v=(\d{1,16}),d=([0-9a-f]{64})/) else { return false }
            guard let stamp = Int64(match.1), abs(now.timeIntervalSince1970 - Double(stamp) / 1000) <= tolerance else { return false }
            guard let given = Data(hex: String(match.2)) else { return false }
            // HMAC's own comparison, in constant time.
            return HMAC<SHA256>.isValidAuthenticationCode(
                given,
                authenticating: body + Data(String(stamp).utf8),
                using: SymmetricKey(data: Data(apiKey.utf8))
            )
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/ops/retell/webhook/{id}") { request, context -> HTTPResponse.Status in
            guard let queries else { throw APIError(.serviceUnavailable, "monitors_not_configured", "monitors are not configured") }
            let id = try IntegrationRoutes.id(context)
            let body = Data(buffer: try await request.body.collect(upTo: 1024 * 1024))
            let apiKey = try await queries.postgres.withTransaction(logger: context.logger) { connection in
                let draft = try await queries.draft(id, on: connection, logger: context.logger)
                guard draft.kind == .retell else { throw APIError.notFound("no such Retell integration") }
                return draft.credentials["api_key"] ?? ""
            }
            guard Signature.isValid(request.headers[HTTPField.Name("X-Retell-Signature")!], body: body, apiKey: apiKey, now: Date()) else {
                throw APIError.unauthorized("invalid_signature", "X-Retell-Signature does not match this integration's API key")
            }
            let event = (try? JSONDecoder().decode(JSONValue.self, from: body))?["event"]?.string
            if event == "call_ended" || event == "call_analyzed" {
                try await queries.postgres.query(
                    """
                    UPDATE devops.integrations
                    SET next_check_at = least(next_check_at, greatest(now(), coalesce(last_checked_at, now()) + interval '60 seconds'))
                    WHERE id = \(id) AND enabled
                    """,
                    logger: context.logger
                )
            }
            return .noContent
        }
    }
}
