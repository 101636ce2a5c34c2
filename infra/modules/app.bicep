// One .NET service of the router as a container app on the Consumption profile, created by
// `azd deploy` with the image it just built (see gateway.bicep and its siblings), so its probes
// always run against the real service: /alive (liveness) and /health (readiness) on 8080.
import { platformNames, internalUrl } from 'shared.bicep'

@description('Container app name (also the service name in services__<name>__<endpoint>__0).')
param name string

@description('azd environment name, for the azd-env-name tag.')
param environmentName string

@description('azd service this app is the deployment target of (azd-service-name tag); empty for none.')
param azdServiceName string = ''

param image string

@description('External ingress (the Gateway only) or internal.')
param external bool = false

@description('gRPC service: ingress speaks HTTP/2 to the grpc endpoint on 8081; health stays on HTTP/1.1 on 8080.')
param grpc bool = false

@description('Replica size on the Consumption profile (see sizes).')
@allowed([ 'small', 'medium' ])
param size string = 'small'

@description('Environment variables: { name, value } or { name, secretRef }.')
param env array = []

@description('Secrets read from Key Vault: { name, keyVaultSecret }.')
param secrets array = []

@description('Azure Files volumes of the environment to mount: { name, storageName, mountPath }.')
param volumes array = []

@description('gRPC services this app calls, wired as services__<name>__grpc__0 (Aspire service discovery) to their internal ingress.')
param grpcReferences array = []

param minReplicas int = 1
param maxReplicas int = 5

@description('Concurrent requests per replica before scaling out.')
param concurrentRequests int = 50

@description('Seconds a replica has to finish in-flight work after SIGTERM (at most 600).')
@maxValue(600)
param terminationGracePeriodSeconds int = 30

// On the Consumption profile a replica's CPU and memory must be one of the documented pairs
// (memory = 2 x vCPU, at most 4 vCPU / 8 GiB).
// https://learn.microsoft.com/azure/container-apps/containers#allocations
var sizes = {
  small: { cpu: '0.5', memory: '1Gi' }
  medium: { cpu: '1', memory: '2Gi' }
}

var names = platformNames(resourceGroup().id)

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: names.environment
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: names.identity
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: names.registry
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: names.vault
}

var kestrel = grpc ? [
  { name: 'Kestrel__Endpoints__http__Url', value: 'http://+:8080' }
  { name: 'Kestrel__Endpoints__grpc__Url', value: 'http://+:8081' }
  { name: 'Kestrel__Endpoints__grpc__Protocols', value: 'Http2' }
] : [
  { name: 'Kestrel__Endpoints__http__Url', value: 'http://+:8080' }
]

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: name
  location: resourceGroup().location
  tags: union({ 'azd-env-name': environmentName }, empty(azdServiceName) ? {} : { 'azd-service-name': azdServiceName })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: external
        targetPort: grpc ? 8081 : 8080
        transport: grpc ? 'http2' : 'auto'
        allowInsecure: false
      }
      registries: [
        { server: registry.properties.loginServer, identity: identity.id }
      ]
      // Key Vault references resolved with the user-assigned identity (Key Vault Secrets User).
      // https://learn.microsoft.com/azure/container-apps/manage-secrets#reference-secret-from-key-vault
      secrets: [for secret in secrets: {
        name: secret.name
        keyVaultUrl: '${vault.properties.vaultUri}secrets/${secret.keyVaultSecret}'
        identity: identity.id
      }]
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'service'
          image: image
          resources: { cpu: json(sizes[size].cpu), memory: sizes[size].memory }
          env: concat(kestrel, [
            { name: 'OTEL_SERVICE_NAME', value: name }
          ], map(grpcReferences, reference => { name: 'services__${reference}__grpc__0', value: internalUrl(reference, environment.properties.defaultDomain) }), env)
          volumeMounts: [for volume in volumes: { volumeName: volume.name, mountPath: volume.mountPath }]
          // Probe limits: initial delay <= 60 s, period <= 240 s, failure threshold <= 10.
          // https://learn.microsoft.com/azure/container-apps/health-probes
          probes: [
            { type: 'Startup', httpGet: { path: '/alive', port: 8080 }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 10 }
            { type: 'Liveness', httpGet: { path: '/alive', port: 8080 }, periodSeconds: 10, failureThreshold: 3 }
            { type: 'Readiness', httpGet: { path: '/health', port: 8080 }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }
          ]
        }
      ]
      volumes: [for volume in volumes: { name: volume.name, storageType: 'AzureFile', storageName: volume.storageName }]
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

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
