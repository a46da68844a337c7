// swift-tools-version:6.1
import PackageDescription

let services: [(product: String, module: String, folder: String)] = [
    ("billing-webhooks", "BillingWebhooks", "BillingWebhooks"),
    ("stripe-sync", "StripeSync", "StripeSync"),
    ("insights-usage", "InsightsUsage", "InsightsUsage"),
    ("revio-data", "RevioData", "RevioData"),
    ("crm-relay", "CRMRelay", "CRMRelay"),
    ("devops-api", "DevOpsAPI", "DevOpsAPI"),
]

let serviceKit: Target.Dependency = "ServiceKit"

var targets: [Target] = [
    .target(
        name: "ServiceKit",
        dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Shared/ServiceKit"
    ),
    .target(name: "PlanKit", path: "Shared/PlanKit"),
    .target(name: "Contracts", dependencies: ["PlanKit"], path: "Shared/Contracts"),
    .target(name: "RevenueMath", dependencies: ["PlanKit"], path: "Shared/RevenueMath"),
    .target(
        name: "StripeKit",
        dependencies: [
            serviceKit,
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Shared/StripeKit"
    ),
    .target(
        name: "Gateway",
        dependencies: [
            serviceKit,
            "Contracts",
            "StripeKit",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ],
        path: "Services/Gateway/App"
    ),
    .executableTarget(name: "GatewayMain", dependencies: ["Gateway"], path: "Services/Gateway/Main"),
    .target(
        name: "Sandbox",
        dependencies: [
            serviceKit,
            "StripeKit",
            "RevioData",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ],
        path: "Tests/Sandbox"
    ),
    .executableTarget(name: "SandboxMain", dependencies: ["Sandbox"], path: "Tests/SandboxMain"),
    .executableTarget(
        name: "KeyBenchmark",
        dependencies: ["DevOpsAPI", "Gateway", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Benchmarks/KeyBenchmark"
    ),
    .executableTarget(
        name: "SyncBenchmark",
        dependencies: ["StripeSync", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
        path: "Benchmarks/SyncBenchmark"
    ),
    .executableTarget(
        name: "StreamBenchmark",
        dependencies: ["StripeSync", "TestSupport", "Sandbox", .product(name: "AsyncHTTPClient", package: "async-http-client")],
        path: "Benchmarks/StreamBenchmark"
    ),
    .executableTarget(
        name: "AnalyticsBenchmark",
        dependencies: ["InsightsUsage", "TestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")],
        path: "Benchmarks/AnalyticsBenchmark"
    ),
    .executableTarget(
        name: "RelayBenchmark",
        dependencies: ["CRMRelay", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Benchmarks/RelayBenchmark"
    ),
    .target(
        name: "TestSupport",
        dependencies: [
            serviceKit, "Sandbox", "Gateway", "StripeKit", .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        path: "Tests/TestSupport"
    ),
    .testTarget(name: "PlanKitTests", dependencies: ["PlanKit"], path: "Tests/PlanKitTests"),
    .testTarget(name: "RevenueMathTests", dependencies: ["RevenueMath", serviceKit], path: "Tests/RevenueMathTests"),
    .testTarget(
        name: "ServiceKitTests",
        dependencies: [serviceKit, "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Tests/ServiceKitTests"
    ),
    .testTarget(
        name: "StripeKitTests",
        dependencies: ["StripeKit", "Sandbox", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Tests/StripeKitTests"
    ),
    .testTarget(
        name: "GatewayTests",
        dependencies: [
            "Gateway", "Contracts", "StripeKit", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ],
        path: "Tests/GatewayTests"
    ),
    .testTarget(
        name: "BillingWebhooksTests",
        dependencies: ["BillingWebhooks", "Contracts", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Tests/BillingWebhooksTests"
    ),
    .testTarget(
        name: "CRMRelayTests",
        dependencies: ["CRMRelay", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Tests/CRMRelayTests"
    ),
    .testTarget(
        name: "RevioDataTests",
        dependencies: ["RevioData", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird")],
        path: "Tests/RevioDataTests"
    ),
    .testTarget(
        name: "DevOpsAPITests",
        dependencies: [
            "DevOpsAPI", "BillingWebhooks", "PlanKit", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird"),
        ],
        path: "Tests/DevOpsAPITests"
    ),
    .testTarget(
        name: "InsightsUsageTests",
        dependencies: [
            "InsightsUsage", "BillingWebhooks", "StripeSync", "StripeKit", "Contracts", "PlanKit", "TestSupport", "Sandbox",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ],
        path: "Tests/InsightsUsageTests"
    ),
    .testTarget(
        name: "StripeSyncTests",
        dependencies: [
            "StripeSync", "StripeKit", "InsightsUsage", "TestSupport", "Sandbox", .product(name: "HummingbirdTesting", package: "hummingbird"),
        ],
        path: "Tests/StripeSyncTests"
    ),
    .testTarget(
        name: "EndToEndTests",
        dependencies: [
            "Gateway", "TestSupport", "Sandbox", "StripeKit", .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "PostgresNIO", package: "postgres-nio"),
        ]
            + services.map { .target(name: $0.module) },
        path: "Tests/EndToEndTests"
    ),
]

var products: [Product] = [
    .executable(name: "gateway", targets: ["GatewayMain"]),
    .executable(name: "sandbox", targets: ["SandboxMain"]),
    .executable(name: "bench-relay", targets: ["RelayBenchmark"]),
    .executable(name: "bench-keys", targets: ["KeyBenchmark"]),
    .executable(name: "bench-sync", targets: ["SyncBenchmark"]),
    .executable(name: "bench-stream", targets: ["StreamBenchmark"]),
    .executable(name: "bench-analytics", targets: ["AnalyticsBenchmark"]),
]

for service in services {
    targets.append(
        .target(
            name: service.module,
            dependencies: [
                serviceKit, "PlanKit", "Contracts", "RevenueMath", "StripeKit", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Services/\(service.folder)/App"
        )
    )
    targets.append(
        .executableTarget(
            name: "\(service.module)Main",
            dependencies: [.target(name: service.module), serviceKit, .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/\(service.folder)/Main"
        )
    )
    products.append(.executable(name: service.product, targets: ["\(service.module)Main"]))
}

let package = Package(
    name: "revmesh",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.1.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: targets,
    swiftLanguageModes: [.v6]
)
