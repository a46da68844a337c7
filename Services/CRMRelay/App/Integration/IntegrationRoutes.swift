import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import ServiceKit

/// The admin's view of the CRM integration: its health, the queue, failed events and their manual retry.
struct IntegrationRoutes {
    let postgres: PostgresClient
    let http: HTTPClient
    let settings: RelaySettings
    let worker: RelayWorker

    struct Status: ResponseCodable, Equatable {
        struct Counts: Codable, Equatable {
            var queued = 0
            var retrying = 0
            var delivering = 0
            var delivered = 0
            var failed = 0
        }
        struct Feature: Codable, Equatable {
            var name: String
            var status: String
        }
        var configured: Bool
        var crm: CRMHealth?
        var breaker: String
        var consecutiveFailures: Int
        var counts: Counts
        var lastSuccessAt: Date?
        var lastFailureAt: Date?
        var lastFailureReason: String?
        var features: [Feature]
    }

    struct Delivery: Codable, Equatable {
        struct Attempt: Codable, Equatable {
            var attempt: Int
            var attemptedAt: Date
            var httpStatus: Int?
            var latencyMs: Int
            var error: String?
            var responseExcerpt: String?
        }
        var eventId: UUID
        var kind: String
        var status: String
        var attempts: [Attempt]
        var lastError: String?
        var createdAt: Date
        var payload: JSONValue
    }

    struct Deliveries: ResponseCodable { var deliveries: [Delivery] }

    struct RetryRequest: Decodable { var eventIds: [UUID]? }
    struct RetryResult: ResponseCodable, Equatable { var requeued: Int }

    struct TestResult: ResponseCodable, Equatable {
        var delivered: Bool
        var status: Int?
        var latencyMs: Int
        var error: String?
        var response: String?
    }

    static let features = [
        Status.Feature(name: "customer_registration", status: "active"),
        Status.Feature(name: "repair_request", status: "active"),
        Status.Feature(name: "payment_status", status: "planned"),
        Status.Feature(name: "profile_updates", status: "planned"),
        Status.Feature(name: "booking_status_changes", status: "planned"),
    ]

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/crm/integration") { _, context -> Status in
            _ = try context.requireAdmin()
            return try await status(context: context)
        }
        router.post("/api/crm/integration/test") { _, context -> TestResult in
            _ = try context.requireAdmin()
            return try await sendTestEvent()
        }
        router.patch("/api/crm/integration/retry-failed") { request, context -> RetryResult in
            _ = try context.requireAdmin()
            let body = try await request.body.collect(upTo: 256 * 1024)
            let ids = body.readableBytes == 0 ? nil : try JSONDecoder().decode(RetryRequest.self, from: body).eventIds
            return RetryResult(requeued: try await OutboxQueries.requeueFailed(ids: ids, postgres: postgres, logger: context.logger))
        }
        router.get("/api/crm/deliveries") { request, context -> Deliveries in
            _ = try context.requireAdmin()
            let status = request.uri.queryParameters.get("status") ?? "failed"
            guard ["queued", "retrying", "delivering", "delivered", "failed"].contains(status) else {
                throw APIError.badRequest("invalid_status", "status must be queued, retrying, delivering, delivered or failed")
            }
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 1), 500)
            return Deliveries(deliveries: try await IntegrationQueries.deliveries(status: status, limit: limit, postgres: postgres, logger: context.logger))
        }
    }

    func status(context: ServiceRequestContext) async throws -> Status {
        let breaker = worker.breakerState
        var status = try await IntegrationQueries.status(postgres: postgres, logger: context.logger)
        status.configured = settings.webhookURL != nil
        status.breaker = breaker.state.rawValue
        status.consecutiveFailures = breaker.consecutiveFailures
        if let url = settings.webhookURL { status.crm = await CRMHealth.check(webhookURL: url, apiKey: settings.apiKey, http: http) }
        return status
    }

    /// A registration marked as a test in its payload and headers, sent straight to the CRM (never queued).
    func sendTestEvent() async throws -> TestResult {
        guard let url = settings.webhookURL else { throw APIError(.conflict, "crm_not_configured", "CRM_WEBHOOK_URL is not set") }
        let now = ISO8601DateFormatter().string(from: Date())
        let payload = """
            {"test":true,"customer":{"firstName":"Revmesh","lastName":"Test","email":"crm-test@revmesh.invalid","websiteUserId":"revmesh-test",\
            "registrationDate":"\(now)","source":"revmesh-integration-test","status":"test"},"metadata":{"test":true}}
            """
        var request = HTTPClientRequest(url: "\(url)/\(CRMEventKind.customerRegistration.rawValue)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey ?? "")")
        let id = "test-" + UUID().uuidString.lowercased()
        request.headers.add(name: "X-Event-Id", value: id)
        request.headers.add(name: "Idempotency-Key", value: id)
        request.headers.add(name: "X-Revmesh-Test", value: "true")
        request.body = .bytes(ByteBuffer(string: payload))
        let start = ContinuousClock.now
        do {
            let response = try await http.execute(request, timeout: TimeAmount(settings.timeout))
            var body = try await response.body.collect(upTo: 64 * 1024)
            return TestResult(
                delivered: (200..<300).contains(response.status.code),
                status: Int(response.status.code),
                latencyMs: Int((ContinuousClock.now - start).inSeconds * 1000),
                response: body.readString(length: min(body.readableBytes, 2_048))
            )
        } catch {
            return TestResult(delivered: false, latencyMs: Int((ContinuousClock.now - start).inSeconds * 1000), error: String(describing: error))
        }
    }
}

enum IntegrationQueries {
    static func status(postgres: PostgresClient, logger: Logger) async throws -> IntegrationRoutes.Status {
        var counts = IntegrationRoutes.Status.Counts()
        for try await (status, count) in try await postgres.query(
            "SELECT status, count(*)::int FROM crm.outbox GROUP BY status",
            logger: logger
        ).decode((String, Int).self) {
            switch status {
            case "queued": counts.queued = count
            case "retrying": counts.retrying = count
            case "delivering": counts.delivering = count
            case "delivered": counts.delivered = count
            default: counts.failed = count
            }
        }
        var lastSuccess: Date?
        for try await value in try await postgres.query("SELECT max(delivered_at) FROM crm.outbox", logger: logger).decode(Date?.self) {
            lastSuccess = value
        }
        var lastFailure: (Date, String?)?
        for try await row in try await postgres.query(
            """
            SELECT attempted_at, COALESCE(error, 'HTTP ' || http_status::text) FROM crm.delivery_attempts
            WHERE error IS NOT NULL OR http_status NOT BETWEEN 200 AND 299 ORDER BY attempted_at DESC LIMIT 1
            """,
            logger: logger
        ).decode((Date, String?).self) {
            lastFailure = row
        }
        return IntegrationRoutes.Status(
            configured: false,
            crm: nil,
            breaker: "closed",
            consecutiveFailures: 0,
            counts: counts,
            lastSuccessAt: lastSuccess,
            lastFailureAt: lastFailure?.0,
            lastFailureReason: lastFailure?.1,
            features: IntegrationRoutes.features
        )
    }

    static func deliveries(status: String, limit: Int, postgres: PostgresClient, logger: Logger) async throws -> [IntegrationRoutes.Delivery] {
        var deliveries: [IntegrationRoutes.Delivery] = []
        for try await (id, kind, state, lastError, createdAt, payload) in try await postgres.query(
            """
            SELECT event_id, kind, status, last_error, created_at, payload::text FROM crm.outbox
            WHERE status = \(status) ORDER BY created_at DESC LIMIT \(limit)
            """,
            logger: logger
        ).decode((UUID, String, String, String?, Date, String).self) {
            deliveries.append(
                .init(
                    eventId: id,
                    kind: kind,
                    status: state,
                    attempts: [],
                    lastError: lastError,
                    createdAt: createdAt,
                    payload: (try? JSONDecoder().decode(JSONValue.self, from: Data(payload.utf8))) ?? .null
                )
            )
        }
        guard !deliveries.isEmpty else { return [] }
        let ids = deliveries.map(\.eventId)
        var attempts: [UUID: [IntegrationRoutes.Delivery.Attempt]] = [:]
        for try await (id, attempt, at, httpStatus, latency, error, excerpt) in try await postgres.query(
            """
            SELECT event_id, attempt, attempted_at, http_status, latency_ms, error, response_excerpt FROM crm.delivery_attempts
            WHERE event_id = ANY(\(ids)) ORDER BY attempted_at
            """,
            logger: logger
        ).decode((UUID, Int, Date, Int?, Int, String?, String?).self) {
            attempts[id, default: []].append(.init(attempt: attempt, attemptedAt: at, httpStatus: httpStatus, latencyMs: latency, error: error, responseExcerpt: excerpt))
        }
        return deliveries.map { delivery in
            var delivery = delivery
            delivery.attempts = attempts[delivery.eventId] ?? []
            return delivery
        }
    }
}
