import Contracts
import Crypto
import Foundation
import Hummingbird
import PlanKit
import PostgresNIO
import ServiceKit

/// `POST /internal/usage-events` (services) records metered use; `GET /api/usage/current` (users) shows the month.
struct UsageRoutes {
    let postgres: PostgresClient
    let accounts: AccountDirectory

    struct NewEvent: Codable {
        var userId: String
        var eventType: String
        var stripeConnectionId: String?
        var amount: Int64
        var metadata: JSONValue?
        var idempotencyKey: String
    }

    struct RecordedEvent: ResponseCodable, Equatable {
        var id: UUID
        var userId: String
        var eventType: String
        var amount: Int64
        var createdAt: Date
    }

    struct CurrentUsage: ResponseCodable, Equatable {
        struct Period: Codable, Equatable {
            var start: Date
            var end: Date
        }
        struct Counts: Codable, Equatable {
            var aiInsights: Int64
            var transactionVolume: Int64
        }
        struct Limits: Codable, Equatable {
            var aiInsights: Int?
            var transactionVolume: Int?
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(aiInsights, forKey: .aiInsights)
                try container.encode(transactionVolume, forKey: .transactionVolume)
            }
        }
        var tier: Tier
        var period: Period
        var usage: Counts
        var limits: Limits
        var aiInsightsRemaining: Int64?
        var transactionVolumeRemaining: Int64?
        var billing: UsageBill

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(tier, forKey: .tier)
            try container.encode(period, forKey: .period)
            try container.encode(usage, forKey: .usage)
            try container.encode(limits, forKey: .limits)
            try container.encode(aiInsightsRemaining, forKey: .aiInsightsRemaining)
            try container.encode(transactionVolumeRemaining, forKey: .transactionVolumeRemaining)
            try container.encode(billing, forKey: .billing)
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/internal/usage-events") { request, context -> EditedResponse<RecordedEvent> in
            _ = try context.requireService()
            let body = Data(buffer: try await request.body.collect(upTo: 64 * 1024))
            let event: NewEvent
            do { event = try JSONDecoder().decode(NewEvent.self, from: body) } catch let error as DecodingError {
                throw APIError.badRequest("invalid_body", "the request body is not valid: \(error.readableDescription)")
            }
            try Self.validate(event)
            let (recorded, created) = try await UsageQueries.record(
                event,
                payloadHash: Data(SHA256.hash(data: body)).hexString,
                postgres: postgres,
                logger: context.logger
            )
            return EditedResponse(status: created ? .created : .ok, response: recorded)
        }
        router.get("/api/usage/current") { _, context -> CurrentUsage in
            let user = try context.requireUser()
            let account = try await accounts.account(for: user.subject, requestID: context.requestID)
            let period = UsagePeriod(containing: Date())
            let counts = try await postgres.withConnection {
                try await UsageQueries.totals(userID: user.subject, period: period, on: $0, logger: context.logger)
            }
            return CurrentUsage(
                tier: account.tier,
                period: .init(start: period.start, end: period.end),
                usage: .init(aiInsights: counts.aiInsights, transactionVolume: counts.transactionVolume),
                limits: .init(aiInsights: account.limits.aiInsights, transactionVolume: account.limits.transactionVolume),
                aiInsightsRemaining: UsageBill.remaining(counts.aiInsights, of: account.limits.aiInsights),
                transactionVolumeRemaining: UsageBill.remaining(counts.transactionVolume, of: account.limits.transactionVolume),
                billing: UsageBill(tier: account.tier, aiInsights: counts.aiInsights, transactionVolume: counts.transactionVolume)
            )
        }
    }

    static func validate(_ event: NewEvent) throws {
        var problems: [FieldProblem] = []
        if event.userId.isEmpty || event.userId.count > 200 { problems.append(FieldProblem("userId", "must be 1 to 200 characters")) }
        if !["ai_insight", "transaction_volume"].contains(event.eventType) {
            problems.append(FieldProblem("eventType", "must be ai_insight or transaction_volume"))
        }
        if event.amount < 0 { problems.append(FieldProblem("amount", "must not be negative")) }
        if event.idempotencyKey.isEmpty || event.idempotencyKey.count > 200 {
            problems.append(FieldProblem("idempotencyKey", "must be 1 to 200 characters"))
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
    }
}
