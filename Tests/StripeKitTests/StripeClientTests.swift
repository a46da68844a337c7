import AsyncHTTPClient
import Foundation
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

/// The client against the sandbox, over real HTTP.
@Suite struct StripeClientTests {
    static func withClient(_ body: @Sendable (StripeClient, Sandbox) async throws -> Void) async throws {
        try await TestSupport.withSandbox { sandbox, sandboxClient in
            try await TestSupport.withHTTPClient { http in
                var client = StripeClient(http: http, secretKey: "sk_test_client", apiBase: sandboxClient.baseURL, logger: TestSupport.logger)
                client.retry.backoff = RetryPolicy(maxRetries: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(4))
                try await body(client, sandbox)
            }
        }
    }

    @Test func postsFormsWithTheVersionAndAnIdempotencyKey() async throws {
        try await Self.withClient { client, sandbox in
            let created: Customer = try await client.post(
                "/v1/customers",
                [("email", "ada@example.com"), ("metadata", .metadata(["user_id": "user-1"]))]
            )
            #expect(created.metadata == ["user_id": "user-1"])
            let fetched: Customer = try await client.get("/v1/customers/\(created.id)")
            #expect(fetched.email == "ada@example.com")
            let post = try #require(sandbox.faults.requests.first { $0.method == "POST" })
            #expect(post.header("Stripe-Version") == StripeClient.apiVersion)
            #expect(post.header("Idempotency-Key")?.isEmpty == false)
            #expect(post.header("Authorization") == "Bearer sk_test_client")
        }
    }

    @Test(arguments: [
        Fault(pathPrefix: "/v1/customers", status: 429, retryAfter: 0),
        Fault(pathPrefix: "/v1/customers", status: 500),
        Fault(pathPrefix: "/v1/customers", status: 409),
        Fault(pathPrefix: "/v1/customers", drop: true),
    ])
    func aFailedPostIsRetriedWithTheSameIdempotencyKey(fault: Fault) async throws {
        try await Self.withClient { client, sandbox in
            sandbox.faults.add(fault)
            let customer: Customer = try await client.post("/v1/customers", [("email", "retry@example.com")])
            #expect(customer.email == "retry@example.com")
            let posts = sandbox.faults.requests.filter { $0.method == "POST" }
            #expect(posts.map(\.faulted) == [true, false])
            let keys = Set(posts.compactMap { $0.header("Idempotency-Key") })
            #expect(keys.count == 1 && posts.allSatisfy { $0.header("Idempotency-Key") != nil })
        }
    }

    @Test func retriesStopAfterThree() async throws {
        try await Self.withClient { client, sandbox in
            sandbox.faults.add(Fault(pathPrefix: "/v1/customers", status: 503, times: nil))
            await #expect(throws: StripeError.self) {
                let _: Customer = try await client.post("/v1/customers", [("email", "x@example.com")])
            }
            #expect(sandbox.faults.requests.count == 4)
        }
    }

    @Test func errorsArriveTypedAndAreNotRetried() async throws {
        try await Self.withClient { client, sandbox in
            let error = await #expect(throws: StripeError.self) {
                let _: Customer = try await client.get("/v1/customers/cus_missing")
            }
            #expect(error?.status == 404)
            #expect(error?.code == "resource_missing")
            #expect(error?.type == "invalid_request_error")
            #expect(sandbox.faults.requests.count == 1)
        }
    }

    @Test func stripeShouldRetryDecides() async throws {
        try await Self.withClient { client, sandbox in
            sandbox.faults.add(Fault(pathPrefix: "/v1/customers/cus_1", status: 500, stripeShouldRetry: false, times: nil))
            let error = await #expect(throws: StripeError.self) {
                let _: Customer = try await client.get("/v1/customers/cus_1")
            }
            #expect(error?.status == 500)
            #expect(sandbox.faults.requests.count == 1)

            sandbox.faults.clear()
            sandbox.faults.add(Fault(pathPrefix: "/v1/customers/cus_2", status: 400, stripeShouldRetry: true))
            await #expect(throws: StripeError.self) {
                let _: Customer = try await client.get("/v1/customers/cus_2")
            }
            // The 400 was retried as told; the retry reached the real (404) answer.
            #expect(sandbox.faults.requests.map(\.faulted) == [true, false])
        }
    }

    @Test func listsArriveAPageAtATime() async throws {
        try await Self.withClient { client, sandbox in
            var ids: [String] = []
            for index in 0..<5 {
                let customer: Customer = try await client.post("/v1/customers", [("email", .string("c\(index)@example.com"))])
                ids.append(customer.id)
            }
            var pages: [[String]] = []
            for try await page in client.list("/v1/customers", pageSize: 2, of: Customer.self) { pages.append(page.map(\.id)) }
            #expect(pages.map(\.count) == [2, 2, 1])
            #expect(pages.flatMap { $0 } == ids)
            let listCalls = sandbox.faults.requests.filter { $0.method == "GET" }
            #expect(listCalls.count == 3)
        }
    }

    @Test func connectCallsNameTheAccount() async throws {
        try await Self.withClient { client, sandbox in
            let _: Customer = try await client.post("/v1/customers", [("email", "a@example.com")], account: "acct_123")
            #expect(sandbox.faults.requests.last?.header("Stripe-Account") == "acct_123")
        }
    }
}
