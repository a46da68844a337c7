import Foundation
import Hummingbird
import PlanKit
import PostgresNIO
import ServiceKit

/// `POST /api/insights?connectionId=` and `GET /api/insights/history?connectionId=` (users).
struct InsightRoutes {
    let postgres: PostgresClient
    let accounts: AccountDirectory
    let metrics: MetricsSource
    /// The model that writes the narrative; nil when `OPENAI_API_KEY` is not set.
    let narrator: ModelNarrator?

    struct Insight: ResponseCodable, Equatable {
        var id: UUID
        var connectionId: UUID
        var createdAt: Date
        /// `openai` when the model wrote the narrative, else `builtin`.
        var engine: String
        /// The model that wrote the narrative; absent for the built-in engine.
        var model: String?
        /// Why the model's narrative was not used; present only when a model is configured and failed.
        var fallbackReason: String?
        var narrative: InsightNarrative
        var report: InsightReport
    }

    struct History: ResponseCodable {
        var insights: [Insight]
    }

    static func limitReached(limit: Int64) -> APIError {
        let next = Tier.starter.next ?? .professional
        let included = next.limits.aiInsights.map { "\($0) a month" } ?? "unlimited"
        return APIError(
            HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"),
            "insight_limit_reached",
            "the starter plan includes \(limit) AI insights a month and this month's are used; upgrade to \(next.displayName) "
                + "(\(included), \(next.monthlyPrice.formatted)/month) with POST /api/create-checkout {\"plan\":\"\(next.rawValue)\"}"
        )
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/insights") { request, context -> EditedResponse<Insight> in
            let user = try context.requireUser()
            let connectionID = try Self.connectionID(request)
            let key = request.headers[.idempotencyKey]
            if let key, key.isEmpty || key.count > 200 {
                throw APIError.badRequest("invalid_idempotency_key", "Idempotency-Key must be 1 to 200 characters")
            }
            if let key,
                let stored = try await postgres.withConnection({
                    try await InsightQueries.find(userID: user.subject, idempotencyKey: key, on: $0, logger: context.logger)
                })
            {
                return EditedResponse(status: .ok, response: try Self.replay(stored, for: connectionID))
            }

            let account = try await accounts.account(for: user.subject, requestID: context.requestID)
            let hardLimit = account.tier.billsOverage ? nil : account.limits.aiInsights.map(Int64.init)
            let period = UsagePeriod(containing: Date())
            // Checked before the work so a refused request costs no model call; checked again under the lock when stored.
            if let hardLimit {
                let used = try await postgres.withConnection {
                    try await UsageQueries.totals(userID: user.subject, period: period, on: $0, logger: context.logger).aiInsights
                }
                if used >= hardLimit { throw Self.limitReached(limit: hardLimit) }
            }

            let source = try await metrics.snapshots(connectionID: connectionID, owner: user.subject, requestID: context.requestID)
            let report = InsightEngine.report(source.snapshots, currency: source.currency)
            var insight = Insight(
                id: UUID(),
                connectionId: connectionID,
                createdAt: Date(),
                engine: "builtin",
                narrative: InsightEngine.narrative(report),
                report: report
            )
            if let narrator {
                do {
                    insight.narrative = try await narrator.narrative(for: report)
                    insight.engine = "openai"
                    insight.model = narrator.settings.model
                } catch let failure as NarrativeFailure {
                    context.logger.warning("the model's narrative was not used", metadata: ["reason": .string(failure.reason)])
                    insight.fallbackReason = failure.reason
                }
            }
            let (stored, created) = try await InsightQueries.store(
                insight,
                userID: user.subject,
                idempotencyKey: key,
                hardLimit: hardLimit,
                period: period,
                postgres: postgres,
                logger: context.logger
            )
            return EditedResponse(status: created ? .created : .ok, response: created ? stored : try Self.replay(stored, for: connectionID))
        }

        router.get("/api/insights/history") { request, context -> History in
            let user = try context.requireUser()
            let connectionID = try Self.connectionID(request)
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 20
            guard (1...100).contains(limit) else { throw APIError.badRequest("invalid_limit", "limit must be 1 to 100") }
            return History(
                insights: try await InsightQueries.history(
                    userID: user.subject,
                    connectionID: connectionID,
                    limit: limit,
                    postgres: postgres,
                    logger: context.logger
                )
            )
        }
    }

    static func connectionID(_ request: Request) throws -> UUID {
        guard let id = request.uri.queryParameters.get("connectionId").flatMap(UUID.init(uuidString:)) else {
            throw APIError.badRequest("invalid_connection_id", "connectionId must be the id of one of your Stripe connections")
        }
        return id
    }

    /// A stored insight answers a repeat of its request; the same key for another connection is a client bug.
    static func replay(_ stored: Insight, for connectionID: UUID) throws -> Insight {
        guard stored.connectionId == connectionID else {
            throw APIError(.conflict, "idempotency_key_reused", "this Idempotency-Key was used for an insight on another connection")
        }
        return stored
    }
}
