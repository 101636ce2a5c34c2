@description('Container app name (also the service name in services__<name>__<endpoint>__0).')
param name string
param location string
param tags object
param environmentId string
param identityId string
param registryLoginServer string
param image string

@description('External ingress (the Gateway only) or internal.')
param external bool = false

@description('gRPC service: ingress speaks HTTP/2 to the grpc endpoint on 8081; health stays on HTTP/1.1 on 8080.')
param grpc bool = false

param env array = []

@description('gRPC services this app calls, wired as services__<name>__grpc__0 (Aspire service discovery) to their internal ingress.')
param grpcReferences array = []

@description('The Container Apps environment default domain, for internal ingress addresses.')
param environmentDomain string = ''

param secrets array = []
param sidecars array = []
param workloadProfileName string = 'Consumption'
param cpu string = '0.5'
param memory string = '1Gi'
param minReplicas int = 1
param maxReplicas int = 5

@description('Concurrent requests per replica before scaling out.')
param concurrentRequests int = 50

var references = [for reference in grpcReferences: { name: 'services__${reference}__grpc__0', value: 'https://${reference}.internal.${environmentDomain}' }]

var kestrel = grpc ? [
  { name: 'Kestrel__Endpoints__http__Url', value: 'http://+:8080' }
  { name: 'Kestrel__Endpoints__grpc__Url', value: 'http://+:8081' }
  { name: 'Kestrel__Endpoints__grpc__Protocols', value: 'Http2' }
] : [
  { name: 'Kestrel__Endpoints__http__Url', value: 'http://+:8080' }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': name })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: external
        targetPort: grpc ? 8081 : 8080
        transport: grpc ? 'http2' : 'auto'
        allowInsecure: false
      }
      registries: [
        { server: registryLoginServer, identity: identityId }
      ]
      secrets: secrets
    }
    template: {
      containers: concat([
        {
          name: 'service'
          image: image
          resources: { cpu: json(cpu), memory: memory }
          env: concat(kestrel, [
            { name: 'OTEL_SERVICE_NAME', value: name }
          ], references, env)
          probes: [
            { type: 'Liveness', httpGet: { path: '/alive', port: 8080 }, periodSeconds: 10 }
            { type: 'Readiness', httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 }
            { type: 'Startup', httpGet: { path: '/alive', port: 8080 }, periodSeconds: 5, failureThreshold: 30 }
          ]
        }
      ], sidecars)
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: { metadata: { concurrentRequests: string(concurrentRequests) } }
          }
        ]
      }
    }
  }
}

output fqdn string = app.properties.configuration.ingress.fqdn
output url string = 'https://${app.properties.configuration.ingress.fqdn}'
