import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import NIOCore
import ServiceKit
import Synchronization

/// Vonage for one or more accounts: the Voice API's `GET /v1/calls` under an application JWT (RS256, checked against
/// the application's key), `GET /account/get-balance` and the Reports API's `GET /v2/reports/records` under Basic
/// key and secret, the latter answering `TRUNCATED` pages of 50 with `_links.next`.
public final class VonageFake: Sendable {
    public struct Call: Sendable, Equatable {
        public var uuid: String
        public var status: String
        public var start: Date
        public var durationSeconds: Int
        public var price: String
    }

    public struct Account: Sendable {
        public var applicationID: String
        public var apiKey: String
        public var apiSecret: String
        public var calls: [Call]
        public var smsStatuses: [String]
        public var balance: String
        public let privateKeyPEM: String
        let key: JWTKit.Insecure.RSA.PrivateKey

        /// An account whose application signs with `privateKeyPEM` (the sandbox's first key unless told).
        public static func generate(
            calls count: Int,
            messages: Int,
            hours: Int,
            now: Date,
            seed: UInt64,
            privateKeyPEM pem: String = SandboxKeys.first
        ) throws -> Account {
            var random = SeededRandom(seed: seed)
            let statuses = ["completed", "completed", "completed", "completed", "busy", "failed", "unanswered", "timeout", "answered", "ringing"]
            let sms = ["delivered", "delivered", "delivered", "delivered", "failed", "expired", "rejected", "accepted", "buffered"]
            return Account(
                applicationID: UUID().uuidString.lowercased(),
                apiKey: "vk\(seed)",
                apiSecret: "secret-\(seed)-\(UUID().uuidString.prefix(8))",
                calls: (0..<count).map { index in
                    let status = statuses[random.next(statuses.count)]
                    return Call(
                        uuid: UUID().uuidString.lowercased(),
                        status: status,
                        start: now.addingTimeInterval(-Double(hours * 3600) + Double(hours * 3600) * Double(index) / Double(max(count, 1))),
                        durationSeconds: status == "completed" ? 5 + random.next(600) : 0,
                        price: status == "completed" ? "0.0\(1_000 + random.next(8_999))" : "0.00000000"
                    )
                },
                smsStatuses: (0..<messages).map { _ in sms[random.next(sms.count)] },
                balance: "\(10 + random.next(90)).\(10 + random.next(89))",
                privateKeyPEM: pem,
                key: try JWTKit.Insecure.RSA.PrivateKey(pem: pem)
            )
        }
    }

    private let accounts = Mutex([Account]())

    init() {}

    public func addAccount(_ account: Account) { accounts.withLock { $0.append(account) } }

    struct Claims: JWTPayload {
        var application_id: String
        var exp: Int
        func verify(using algorithm: some JWTAlgorithm) async throws {
            guard Double(exp) > Date().timeIntervalSince1970 else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "expired") }
        }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/calls") { request, _ in
            let token = request.bearerToken ?? ""
            let claimed = unverifiedClaims(of: token, as: Claims.self)
            guard let claimed, let account = self.accounts.withLock({ $0.first { $0.applicationID == claimed.application_id } }) else {
                return try Self.problem(401, "Invalid Token", "You did not provide correct credentials")
            }
            let keys = JWTKeyCollection()
            await keys.add(rsa: account.key, digestAlgorithm: .sha256)
            guard (try? await keys.verify(token, as: Claims.self)) != nil else {
                return try Self.problem(401, "Invalid Token", "The token's signature does not match the application's key")
            }
            let query = request.queryValues
            let size = Int(query["page_size"] ?? "10") ?? 10
            guard (1...100).contains(size) else { return try Self.problem(400, "Bad Request", "page_size must be between 1 and 100") }
            let index = max(Int(query["record_index"] ?? "0") ?? 0, 0)
            let start = query["date_start"].flatMap(ProviderDates.parse) ?? .distantPast
            let end = query["date_end"].flatMap(ProviderDates.parse) ?? .distantFuture
            var calls = account.calls.filter { $0.start >= start && $0.start <= end }.sorted { $0.start < $1.start }
            if query["order"] == "desc" { calls.reverse() }
            let page = calls.dropFirst(index).prefix(size).map { call -> [String: Any] in
                [
                    "uuid": call.uuid, "conversation_uuid": "CON-" + call.uuid, "status": call.status, "direction": "outbound",
                    "rate": "0.01000000", "price": call.price, "duration": String(call.durationSeconds),
                    "start_time": ProviderDates.format(call.start),
                    "end_time": ProviderDates.format(call.start.addingTimeInterval(Double(call.durationSeconds))),
                    "network": "23410", "to": ["type": "phone", "number": "447700900000"], "from": ["type": "phone", "number": "447700900001"],
                ]
            }
            return try jsonObjectResponse([
                "count": calls.count, "page_size": size, "record_index": index,
                "_links": ["self": ["href": "/v1/calls?page_size=\(size)&record_index=\(index)"]],
                "_embedded": ["calls": page],
            ])
        }
        router.get("/account/get-balance") { request, _ in
            guard let account = self.basic(request) else { return try Self.problem(401, "Unauthorized", "Bad credentials") }
            return try jsonObjectResponse(["value": NSDecimalNumber(string: account.balance), "autoReload": false])
        }
        router.get("/v2/reports/records") { request, _ in
            guard let account = self.basic(request) else { return try Self.problem(401, "Unauthorized", "Bad credentials") }
            let query = request.queryValues
            guard query["product"] == "SMS", query["account_id"] == account.apiKey else {
                return try Self.problem(400, "Bad Request", "product SMS and your account_id are required")
            }
            let cursor = Int(query["cursor"] ?? "0") ?? 0
            let chunk = account.smsStatuses.dropFirst(cursor).prefix(50)
            var body: [String: Any] = [
                "request_status": cursor + chunk.count < account.smsStatuses.count ? "TRUNCATED" : "SUCCESS",
                "records": chunk.map { ["status": $0, "direction": "outbound", "price": "0.0333"] },
            ]
            if cursor + chunk.count < account.smsStatuses.count {
                var next = query
                next["cursor"] = String(cursor + chunk.count)
                let text = next.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.value)"
                }
                body["_links"] = ["next": ["href": "https://api.nexmo.com/v2/reports/records?" + text.joined(separator: "&")]]
            }
            return try jsonObjectResponse(body)
        }
    }

    private func basic(_ request: Request) -> Account? {
        guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) })
        else { return nil }
        return accounts.withLock { $0.first { "\($0.apiKey):\($0.apiSecret)" == decoded } }
    }

    /// Vonage's error body (RFC 7807 style).
    static func problem(_ status: Int, _ title: String, _ detail: String) throws -> Response {
        try jsonObjectResponse(
            ["type": "https://developer.nexmo.com/api-errors#unauthorized", "title": title, "detail": detail, "instance": UUID().uuidString],
            status: .init(code: status)
        )
    }
}
