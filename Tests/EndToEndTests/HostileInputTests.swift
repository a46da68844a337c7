import BillingWebhooks
import CRMRelay
import Crypto
import DevOpsAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightsUsage
import PostgresNIO
import RevioData
import Sandbox
import ServiceKit
import StripeKit
import StripeSync
import TestSupport
import Testing

@testable import Gateway

/// One write route of `gateway.conf` as a careless or hostile client calls it: a valid request carrying a marker
/// (a unique string that a stored request would leave in the service's schema), which the suite then mutates.
struct WriteRoute: Sendable {
    struct Request: Sendable {
        var uri: String
        var body: JSONValue?
        var headers: HTTPFields
    }

    let method: HTTPRequest.Method
    let pattern: String
    let schema: String
    let make: @Sendable (_ marker: String) async throws -> Request
    /// Headers that depend on the exact bytes sent (signatures), added last.
    var sign: @Sendable (_ body: ByteBuffer) -> HTTPFields = { _ in [:] }
}

/// A change to a valid request: one field at a time, or the body as a whole.
struct Mutation: Sendable, CustomStringConvertible {
    enum Change: Sendable {
        case field(path: [JSONPathStep], value: JSONValue, rawReplacement: String?)
        case rawBody(String, contentType: String)
        case bytes([UInt8])
        case contentType(String)
        case pathSuffix(String)
    }

    let description: String
    let change: Change
    /// The field the refusal must name, for text that cannot be stored.
    var expectedField: String?
}

enum JSONPathStep: Sendable, Equatable {
    case key(String)
    case index(Int)
}

extension JSONValue {
    /// Every leaf with its path, as `StorableInput` names fields (`customer.email`, `photos[0]`).
    func leaves(_ prefix: [JSONPathStep] = []) -> [[JSONPathStep]] {
        switch self {
        case .object(let object): object.keys.sorted().flatMap { object[$0]!.leaves(prefix + [.key($0)]) }
        case .array(let array): array.indices.flatMap { array[$0].leaves(prefix + [.index($0)]) }
        default: [prefix]
        }
    }

    func replacing(_ path: ArraySlice<JSONPathStep>, with value: JSONValue) -> JSONValue {
        guard let step = path.first else { return value }
        switch (self, step) {
        case (.object(var object), .key(let key)):
            object[key] = (object[key] ?? .null).replacing(path.dropFirst(), with: value)
            return .object(object)
        case (.array(var array), .index(let index)) where array.indices.contains(index):
            array[index] = array[index].replacing(path.dropFirst(), with: value)
            return .array(array)
        default:
            return self
        }
    }

    static func fieldName(_ path: [JSONPathStep]) -> String {
        var name = ""
        for step in path {
            switch step {
            case .key(let key): name += name.isEmpty ? key : "." + key
            case .index(let index): name += "[\(index)]"
            }
        }
        return name.isEmpty ? "body" : name
    }
}

enum Mutations {
    static let surrogatePlaceholder = "SURROGATE-PLACEHOLDER"

    static func forField(_ path: [JSONPathStep]) -> [Mutation] {
        let name = JSONValue.fieldName(path)
        func field(_ label: String, _ value: JSONValue, raw: String? = nil, expect: String? = nil) -> Mutation {
            Mutation(description: "\(name): \(label)", change: .field(path: path, value: value, rawReplacement: raw), expectedField: expect)
        }
        var deep: JSONValue = "bottom"
        for _ in 0..<80 { deep = [deep] }
        return [
            field("NUL", "before\u{0}after", expect: name),
            field("unpaired surrogate", .string(surrogatePlaceholder), raw: #""\ud800x""#, expect: name),
            field("overlong string", .string(String(repeating: "x", count: 6000))),
            field("number", .number(42)),
            field("object", ["nested": "value"]),
            field("null", .null),
            field("huge number", .number(Decimal(string: "1e120")!)),
            field("huge integer", .number(Decimal(string: "99999999999999999999999999")!)),
            field("negative number", .number(-1)),
            field("impossible date", "2026-02-30T25:61:61Z"),
            field("empty string", ""),
            field("deep nesting", deep),
        ]
    }

    static let wholeBody: [Mutation] = [
        Mutation(description: "empty body", change: .rawBody("", contentType: "application/json")),
        Mutation(description: "not JSON", change: .rawBody("this is not json", contentType: "application/json")),
        Mutation(description: "a JSON array", change: .rawBody("[1,2,3]", contentType: "application/json")),
        Mutation(description: "a JSON string", change: .rawBody(#""text""#, contentType: "application/json")),
        Mutation(description: "truncated JSON", change: .rawBody(#"{"a": "#, contentType: "application/json")),
        Mutation(
            description: "deep nesting",
            change: .rawBody(String(repeating: "[", count: 200) + String(repeating: "]", count: 200), contentType: "application/json"),
            expectedField: nil
        ),
        Mutation(description: "not UTF-8", change: .bytes(Array(#"{"a": ""#.utf8) + [0xFF, 0xFE, 0xC3] + Array(#""}"#.utf8))),
        Mutation(description: "a raw NUL byte", change: .bytes(Array(#"{"a": "x"#.utf8) + [0] + Array(#""}"#.utf8))),
        Mutation(description: "wrong content type", change: .contentType("text/plain")),
        Mutation(description: "form content type", change: .contentType("application/x-www-form-urlencoded")),
        Mutation(description: "NUL in the path", change: .pathSuffix("%00")),
        Mutation(description: "NUL in the query", change: .pathSuffix("?connectionId=%00x")),
    ]

    /// At most `limit` mutations of `body`, drawn with a fixed seed; every NUL and surrogate case is always kept.
    static func sample(for body: JSONValue?, limit: Int, random: inout SeededRandom) -> [Mutation] {
        let fieldMutations = (body?.leaves() ?? []).filter { !$0.isEmpty }.flatMap(forField)
        let essential = fieldMutations.filter { $0.expectedField != nil }
        var others = fieldMutations.filter { $0.expectedField == nil } + wholeBody
        var chosen = essential
        while chosen.count < limit, !others.isEmpty { chosen.append(others.remove(at: random.next(others.count))) }
        return chosen
    }
}

/// Every write route, mutated one field at a time through the real gateway and the real services: no 5xx, always
/// the error envelope, text that cannot be stored named in a 400, and nothing of a refused request stored.
@Suite struct HostileInputTests {
    static let devopsWebhookSecret = "test-devops-webhook-secret-0123456789"

    @Test func noMutatedRequestOnAnyWriteRouteIsAServerErrorOrLeavesATrace() async throws {
        // A database of its own: the suite's relay and cron calls must not touch the outbox and jobs of other suites.
        try await TestSupport.withIsolatedDatabase { database in try await Self.run(database) }
    }

    static func run(_ database: PostgresClient.Configuration) async throws {
        try await withWholeSystem(database: database, variables: ["DEVOPS_WEBHOOK_SECRET": Self.devopsWebhookSecret]) { system in
            try await Self.exercise(system.gateway, database: database)
        }
    }

    static func exercise(_ gateway: any TestClientProtocol, database: PostgresClient.Configuration) async throws {
        let admin = try await TestSupport.userToken("hostile-admin", admin: true)
        let created = try await gateway.execute(
            uri: "/api/devops/generate-key",
            method: .post,
            headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"name":"hostile suite","permissions":["webhook:write"]}"#)
        )
        #expect(created.status == .created || created.status == .ok, "\(String(buffer: created.body))")
        let webhookKey = try #require(try JSONValue.decode(created.body)["key"]?.string)
        let routes = Self.routes(webhookKey: webhookKey)

        let config = try GatewayConfig.parse(
            String(contentsOf: TestSupport.repositoryRoot.appendingPathComponent("gateway.conf"), encoding: .utf8),
            environment: TestSupport.gatewayEnvironment(services: [:])
        )
        let writeRoutes = Set(config.routes.filter { $0.method != .get && $0.method != nil }.map { "\($0.method!.rawValue) \($0.pattern.text)" })
        #expect(Set(routes.map { "\($0.method.rawValue) \($0.pattern)" }) == writeRoutes, "every write route of gateway.conf is covered")

        let (failures, counter) = try await TestSupport.withPostgres(database) { postgres in
            var random = SeededRandom(seed: 0x4057_11E)
            var failures: [String] = []
            var counter = 0
            for route in routes {
                let valid = try await route.make("hostile-probe-\(UUID().uuidString.lowercased())")
                for mutation in Mutations.sample(for: valid.body, limit: 40, random: &random) {
                    counter += 1
                    let marker = "hostile-\(counter)-\(UUID().uuidString.lowercased().prefix(8))"
                    let request = try await route.make(marker)
                    let (uri, bytes, headers) = Self.apply(mutation, to: request)
                    var allHeaders = headers
                    allHeaders.append(contentsOf: route.sign(bytes))
                    let response = try await gateway.execute(uri: uri, method: route.method, headers: allHeaders, body: bytes)
                    let label = "\(route.method) \(route.pattern) with \(mutation)"
                    guard response.status.code < 500 else {
                        failures.append("\(label): \(response.status.code) \(String(buffer: response.body).prefix(200))")
                        continue
                    }
                    guard response.status.code >= 400 else {
                        if mutation.expectedField != nil { failures.append("\(label): accepted (\(response.status.code))") }
                        continue
                    }
                    guard let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: response.body)) else {
                        failures.append("\(label): \(response.status.code) without the error envelope")
                        continue
                    }
                    if let field = mutation.expectedField,
                        response.status != .badRequest || envelope.error.code != "invalid_payload" || envelope.error.fields?.first?.field != field
                    {
                        failures.append("\(label): expected 400 invalid_payload naming \(field), got \(response.status.code) \(envelope.error.code)")
                    }
                    if let table = try await Self.tableHolding(marker, schema: route.schema, postgres: postgres) {
                        failures.append("\(label): refused with \(response.status.code) but stored in \(route.schema).\(table)")
                    }
                }
            }
            return (failures, counter)
        }
        #expect(failures.isEmpty, Comment(rawValue: "\(failures.count) of \(counter):\n" + failures.prefix(40).joined(separator: "\n")))
    }

    static func apply(_ mutation: Mutation, to request: WriteRoute.Request) -> (String, ByteBuffer, HTTPFields) {
        var headers = request.headers
        var uri = request.uri
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encoded(_ value: JSONValue?) -> String {
            value.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        var text = encoded(request.body)
        var bytes: [UInt8]?
        switch mutation.change {
        case .field(let path, let value, let raw):
            text = encoded(request.body?.replacing(path[...], with: value))
            if let raw { text = text.replacingOccurrences(of: "\"\(Mutations.surrogatePlaceholder)\"", with: raw) }
        case .rawBody(let raw, let contentType):
            text = raw
            headers[.contentType] = contentType
        case .bytes(let raw):
            bytes = raw
        case .contentType(let contentType):
            headers[.contentType] = contentType
        case .pathSuffix(let suffix):
            uri += suffix.hasPrefix("?") && uri.contains("?") ? "&" + suffix.dropFirst() : suffix
        }
        return (uri, ByteBuffer(bytes: bytes ?? Array(text.utf8)), headers)
    }

    /// The first table of `schema` with a row whose text contains `marker`.
    static func tableHolding(_ marker: String, schema: String, postgres: PostgresClient) async throws -> String? {
        var tables: [String] = []
        let rows = try await postgres.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = \(schema) AND table_type = 'BASE TABLE'",
            logger: TestSupport.logger
        )
        for try await table in rows.decode(String.self) { tables.append(table) }
        for table in tables {
            let quoted = "\"\(schema)\".\"\(table.replacingOccurrences(of: "\"", with: "\"\""))\""
            let query = PostgresQuery(
                unsafeSQL: "SELECT count(*) FROM \(quoted) AS t WHERE t::text LIKE $1",
                binds: try {
                    var binds = PostgresBindings()
                    try binds.append("%" + marker + "%", context: .default)
                    return binds
                }()
            )
            for try await count in try await postgres.query(query, logger: TestSupport.logger).decode(Int.self) where count > 0 {
                return table
            }
        }
        return nil
    }

    @Sendable static func user(_ marker: String, admin: Bool = false) async throws -> HTTPFields {
        [.authorization: "Bearer \(try await TestSupport.userToken(marker, admin: admin))", .contentType: "application/json"]
    }

    static func routes(webhookKey: String) -> [WriteRoute] {
        let crm: HTTPFields = [.authorization: "Bearer \(TestSupport.crmEventsKey)", .contentType: "application/json"]
        let now = ISO8601DateFormatter().string(from: Date())
        return [
            WriteRoute(method: .post, pattern: "/api/create-checkout", schema: "billing") { marker in
                .init(uri: "/api/create-checkout", body: ["plan": "professional"], headers: try await user(marker))
            },
            WriteRoute(method: .patch, pattern: "/api/admin/partners/{id}", schema: "billing") { marker in
                .init(uri: "/api/admin/partners/\(marker)", body: ["level": "reseller"], headers: try await user("hostile-admin", admin: true))
            },
            WriteRoute(
                method: .post,
                pattern: "/api/webhooks/stripe-billing",
                schema: "billing",
                make: { marker in
                    .init(
                        uri: "/api/webhooks/stripe-billing",
                        body: [
                            "id": .string("evt_" + marker), "object": "event", "type": "customer.subscription.updated",
                            "created": .number(Decimal(Int(Date().timeIntervalSince1970))), "livemode": false,
                            "data": [
                                "object": ["id": .string("sub_" + marker), "object": "subscription", "customer": "cus_hostile", "status": "active"]
                            ],
                        ],
                        headers: [.contentType: "application/json"]
                    )
                },
                sign: { body in
                    let header = StripeWebhookSignature.header(for: Data(buffer: body), secret: TestSupport.stripeWebhookSecret, timestamp: Date())
                    return [HTTPField.Name("Stripe-Signature")!: header]
                }
            ),
            WriteRoute(
                method: .post,
                pattern: "/api/webhooks/stripe-connect",
                schema: "sync",
                make: { marker in
                    .init(
                        uri: "/api/webhooks/stripe-connect",
                        body: [
                            "id": .string("evt_" + marker), "object": "event", "type": "customer.subscription.updated",
                            "account": .string("acct_" + marker), "created": .number(Decimal(Int(Date().timeIntervalSince1970))),
                            "livemode": false,
                            "data": [
                                "object": ["id": .string("sub_" + marker), "object": "subscription", "customer": "cus_hostile", "status": "active"],
                                "previous_attributes": ["status": "past_due"],
                            ],
                        ],
                        headers: [.contentType: "application/json"]
                    )
                },
                sign: { body in
                    let header = StripeWebhookSignature.header(
                        for: Data(buffer: body),
                        secret: TestSupport.stripeConnectWebhookSecret,
                        timestamp: Date()
                    )
                    return [HTTPField.Name("Stripe-Signature")!: header]
                }
            ),
            WriteRoute(method: .delete, pattern: "/api/stripe/connections/{id}", schema: "sync") { marker in
                .init(uri: "/api/stripe/connections/\(UUID())", body: nil, headers: try await user(marker))
            },
            WriteRoute(method: .post, pattern: "/api/stripe/connections/{id}/sync", schema: "sync") { marker in
                .init(uri: "/api/stripe/connections/\(UUID())/sync", body: nil, headers: try await user(marker))
            },
            WriteRoute(method: .patch, pattern: "/api/stripe/connections/{id}/settings", schema: "sync") { marker in
                .init(
                    uri: "/api/stripe/connections/\(UUID())/settings",
                    body: ["discounts": "all-active", "pastDueChurnDays": .number(30), "cancellation": "period-end"],
                    headers: try await user(marker)
                )
            },
            WriteRoute(method: .post, pattern: "/api/stripe/sync", schema: "sync") { _ in
                .init(uri: "/api/stripe/sync", body: nil, headers: [.authorization: "Bearer \(TestSupport.cronSecret)"])
            },
            WriteRoute(method: .post, pattern: "/api/insights", schema: "usage") { marker in
                .init(uri: "/api/insights?connectionId=\(UUID())", body: nil, headers: try await user(marker))
            },
            WriteRoute(method: .post, pattern: "/functions/v1/revio-data", schema: "revio") { marker in
                .init(
                    uri: "/functions/v1/revio-data",
                    body: ["dataType": "customers", "page": .number(1), "perPage": .number(10)],
                    headers: try await user(marker)
                )
            },
            WriteRoute(method: .post, pattern: "/api/crm/events/customer-registration", schema: "crm") { marker in
                .init(
                    uri: "/api/crm/events/customer-registration",
                    body: [
                        "customer": [
                            "firstName": "Ada", "lastName": "Lovelace", "email": .string("\(marker)@example.com"), "phone": "+44 20 7946 0000",
                            "websiteUserId": "web-42", "registrationDate": "2026-11-20T10:15:00Z", "source": "website", "language": "en",
                            "status": "active", "preferences": ["newsletter": true],
                        ],
                        "metadata": ["campaign": "winter"],
                    ],
                    headers: crm
                )
            },
            WriteRoute(method: .post, pattern: "/api/crm/events/repair-request", schema: "crm") { marker in
                .init(
                    uri: "/api/crm/events/repair-request",
                    body: [
                        "repair": [
                            "ticketNumber": .string(marker), "websiteRepairId": "rep-1", "customerEmail": "ada@example.com",
                            "customerName": "Ada Lovelace", "deviceType": "smartphone", "deviceModel": "Pixel 9",
                            "issueDescription": "Cracked screen", "serviceType": "screen_replacement", "priority": "high", "language": "en",
                            "address": ["city": "London"], "notes": "Call first", "createdAt": "2026-11-21T09:00:00.000Z",
                            "estimatedCost": .number(Decimal(string: "149.99")!), "photos": ["https://cdn.example.com/p/1.jpg"],
                        ],
                        "customer": ["email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"],
                        "metadata": ["source": "booking-form"],
                    ],
                    headers: crm
                )
            },
            WriteRoute(method: .post, pattern: "/api/crm/integration/test", schema: "crm") { marker in
                .init(uri: "/api/crm/integration/test", body: nil, headers: try await user(marker, admin: true))
            },
            WriteRoute(method: .patch, pattern: "/api/crm/integration/retry-failed", schema: "crm") { marker in
                .init(
                    uri: "/api/crm/integration/retry-failed",
                    body: ["eventIds": [.string(UUID().uuidString)]],
                    headers: try await user(marker, admin: true)
                )
            },
            WriteRoute(method: .post, pattern: "/api/devops/generate-key", schema: "devops") { marker in
                .init(
                    uri: "/api/devops/generate-key",
                    body: ["name": .string(marker), "permissions": ["sync:users"], "expiresInDays": .number(30)],
                    headers: try await user("hostile-admin", admin: true)
                )
            },
            WriteRoute(method: .delete, pattern: "/api/devops/keys/{id}", schema: "devops") { marker in
                .init(uri: "/api/devops/keys/\(UUID())", body: nil, headers: try await user(marker, admin: true))
            },
            WriteRoute(
                method: .post,
                pattern: "/api/devops/webhook",
                schema: "devops",
                make: { marker in
                    .init(
                        uri: "/api/devops/webhook",
                        body: [
                            "event_type": "deployment", "environment": "production", "version": .string(marker), "status": "success",
                            "deployTime": .number(45), "timestamp": .string(now),
                        ],
                        headers: [HTTPField.Name("x-api-key")!: webhookKey, .contentType: "application/json"]
                    )
                },
                sign: { body in
                    let mac = HMAC<SHA256>.authenticationCode(for: Data(buffer: body), using: SymmetricKey(data: Data(devopsWebhookSecret.utf8)))
                    return [HTTPField.Name("X-Signature")!: "sha256=" + Data(mac).hexString]
                }
            ),
            WriteRoute(method: .post, pattern: "/api/analytics/events", schema: "usage") { marker in
                .init(
                    uri: "/api/analytics/events",
                    body: [
                        "batch": [
                            [
                                "event": "page_view", "distinct_id": .string(marker), "uuid": .string(UUID().uuidString),
                                "properties": ["page": .string("/" + marker), "referrer": "https://example.com/"],
                            ]
                        ]
                    ],
                    headers: [.contentType: "application/json"]
                )
            },
            WriteRoute(method: .delete, pattern: "/api/analytics/persons/{id}", schema: "usage") { marker in
                .init(uri: "/api/analytics/persons/\(marker)", body: nil, headers: try await user(marker))
            },
            WriteRoute(method: .post, pattern: "/api/ops/integrations", schema: "devops") { marker in
                .init(
                    uri: "/api/ops/integrations",
                    body: [
                        "kind": "n8n", "name": .string(marker), "base_url": "http://127.0.0.1:1", "credentials": ["api_key": "hostile-key"],
                        "config": ["window_hours": .number(24)], "poll_seconds": .number(600), "enabled": false,
                    ],
                    headers: try await user("hostile-admin", admin: true)
                )
            },
            WriteRoute(method: .patch, pattern: "/api/ops/integrations/{id}", schema: "devops") { marker in
                .init(
                    uri: "/api/ops/integrations/\(UUID())",
                    body: ["name": .string(marker), "poll_seconds": .number(300)],
                    headers: try await user("hostile-admin", admin: true)
                )
            },
            WriteRoute(method: .delete, pattern: "/api/ops/integrations/{id}", schema: "devops") { marker in
                .init(uri: "/api/ops/integrations/\(UUID())", body: nil, headers: try await user(marker, admin: true))
            },
            WriteRoute(method: .post, pattern: "/api/ops/integrations/{id}/check", schema: "devops") { marker in
                .init(uri: "/api/ops/integrations/\(UUID())/check", body: nil, headers: try await user(marker, admin: true))
            },
            WriteRoute(method: .post, pattern: "/api/ops/gcp/budget", schema: "devops") { marker in
                let notification =
                    #"{"budgetDisplayName":"\#(marker)","costAmount":12.5,"costIntervalStart":"2026-12-01T08:00:00Z","budgetAmount":100,"#
                    + #""budgetAmountType":"SPECIFIED_AMOUNT","currencyCode":"USD","alertThresholdExceeded":0.5}"#
                return .init(
                    uri: "/api/ops/gcp/budget",
                    body: [
                        "message": [
                            "data": .string(Data(notification.utf8).base64EncodedString()),
                            "attributes": ["schemaVersion": "1.0", "billingAccountId": "01D4EE-079462-DFD6EC", "budgetId": .string(marker)],
                            "messageId": .string(marker), "publishTime": .string(now),
                        ],
                        "subscription": "projects/revmesh/subscriptions/budget",
                    ],
                    headers: [.authorization: "Bearer \(TestSupport.gcpBudgetPushToken)", .contentType: "application/json"]
                )
            },
            WriteRoute(method: .post, pattern: "/api/ops/retell/webhook/{id}", schema: "devops") { marker in
                .init(
                    uri: "/api/ops/retell/webhook/\(UUID())",
                    body: ["event": "call_ended", "call": ["call_id": .string(marker), "call_status": "ended"]],
                    headers: [.contentType: "application/json"]
                )
            },
        ]
    }
}

extension JSONValue {
    static func decode(_ buffer: ByteBuffer) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(buffer: buffer)) }
}
