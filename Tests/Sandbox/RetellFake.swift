import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit
import Synchronization

/// Retell AI's call listing and concurrency, per API key: `POST /v3/list-calls` (`{items, pagination_key, has_more}`,
/// up to 1,000 a page, filtered by `start_timestamp`), the legacy `POST /v2/list-calls` (a bare array), and
/// `GET /get-concurrency`. An account may have v3 turned off, to exercise the fallback.
public final class RetellFake: Sendable {
    public struct Call: Sendable, Equatable {
        public var id: String
        public var status: String
        public var startMilliseconds: Int64
        public var successful: Bool?
        public var costCents: Decimal
        public var latencies: [Decimal]
    }

    public struct Account: Sendable {
        public var calls: [Call]
        public var concurrency: Int
        public var limit: Int
        public var v3: Bool = true

        public static func generate(calls count: Int, hours: Int, now: Date, seed: UInt64) -> Account {
            var random = SeededRandom(seed: seed)
            let statuses = ["ended", "ended", "ended", "ended", "ended", "error", "not_connected", "ongoing", "registered"]
            let nowMilliseconds = Int64(now.timeIntervalSince1970 * 1000)
            let span = Int64(hours) * 3_600_000
            let calls = (0..<count).map { index -> Call in
                let status = statuses[random.next(statuses.count)]
                let ended = status == "ended"
                return Call(
                    id: "call_\(seed)_\(index)",
                    status: status,
                    startMilliseconds: nowMilliseconds - span + span * Int64(index) / Int64(max(count, 1)),
                    successful: ended && random.next(4) != 0 ? random.next(3) != 0 : nil,
                    costCents: ended ? Decimal(random.next(5_000)) / 10 : 0,
                    latencies: ended ? (0..<(1 + random.next(6))).map { _ in Decimal(400 + random.next(1_600)) } : []
                )
            }
            return Account(calls: calls, concurrency: random.next(10), limit: 20)
        }
    }

    private let accounts = Mutex([String: Account]())

    init() {}

    public func setAccount(apiKey: String, _ account: Account) { accounts.withLock { $0[apiKey] = account } }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/v3/list-calls") { request, _ in
            try await self.answer(request) { account, body in
                guard account.v3 else { return try jsonResponse(["status": "error", "message": "Not Found"], status: .notFound) }
                let (page, more) = try Self.page(account, body)
                var json: [String: Any] = ["items": page.map(Self.json), "has_more": more]
                if more, let last = page.last { json["pagination_key"] = last.id }
                return try jsonObjectResponse(json)
            }
        }
        router.post("/v2/list-calls") { request, _ in
            try await self.answer(request) { account, body in try jsonObjectResponse(try Self.page(account, body).page.map(Self.json)) }
        }
        router.get("/get-concurrency") { request, _ in
            try await self.answer(request) { account, _ in
                try jsonObjectResponse([
                    "current_concurrency": account.concurrency, "concurrency_limit": account.limit, "base_concurrency": account.limit,
                    "purchased_concurrency": 0, "concurrency_purchase_limit": 100, "remaining_purchase_limit": 100,
                ])
            }
        }
    }

    private func answer(_ request: Request, _ body: (Account, [String: Any]) throws -> Response) async throws -> Response {
        let key = request.bearerToken
        guard let key, let account = accounts.withLock({ $0[key] }) else {
            return try jsonResponse(["status": "error", "message": "Invalid API Key"], status: .unauthorized)
        }
        var request = request
        let bytes = try await request.collectBody(upTo: 1 << 20)
        let json = bytes.readableBytes == 0 ? [:] : (try JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] ?? [:])
        return try body(account, json)
    }

    /// Newest first, inside the start filter, after the pagination key.
    private static func page(_ account: Account, _ body: [String: Any]) throws -> (page: [Call], more: Bool) {
        let limit = body["limit"] as? Int ?? 50
        guard (1...1_000).contains(limit) else { throw HTTPError(.badRequest, message: "limit must be between 1 and 1000") }
        let range = ((body["filter_criteria"] as? [String: Any])?["start_timestamp"] as? [String: Any]) ?? [:]
        let lower = (range["lower_threshold"] as? NSNumber)?.int64Value ?? .min
        let upper = (range["upper_threshold"] as? NSNumber)?.int64Value ?? .max
        var calls = account.calls.filter { $0.startMilliseconds >= lower && $0.startMilliseconds <= upper }
            .sorted { $0.startMilliseconds > $1.startMilliseconds }
        if let key = body["pagination_key"] as? String, let index = calls.firstIndex(where: { $0.id == key }) {
            calls.removeFirst(index + 1)
        }
        return (Array(calls.prefix(limit)), calls.count > limit)
    }

    private static func json(_ call: Call) -> [String: Any] {
        var json: [String: Any] = [
            "call_id": call.id, "call_type": "phone_call", "agent_id": "agent_sandbox", "agent_version": 1, "call_status": call.status,
            "direction": "inbound", "from_number": "+14157774444", "to_number": "+12137774445", "start_timestamp": call.startMilliseconds,
        ]
        if call.status == "ended" {
            json["end_timestamp"] = call.startMilliseconds + 60_000
            json["call_cost"] = ["combined_cost": NSDecimalNumber(decimal: call.costCents), "product_costs": [Any](), "total_duration_seconds": 60]
            json["latency"] = ["e2e": ["values": call.latencies.map { NSDecimalNumber(decimal: $0) }, "num": call.latencies.count]]
        }
        if let successful = call.successful { json["call_analysis"] = ["call_successful": successful, "user_sentiment": "Positive"] }
        return json
    }

}
