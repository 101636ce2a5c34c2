param environmentName string
param location string
param tags object

@secure()
param postgresAdminPassword string

param gatewayImage string
param scoringImage string
param policyImage string
param classifierImage string
param inferenceWorkerImage string
param gpuProfileType string
param models array

var token = toLower(uniqueString(subscription().id, environmentName, location))
var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
var acrPull = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
var postgresAdmin = 'routeradmin'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${token}'
  location: location
  tags: tags
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: 'cr${token}'
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

resource registryPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: acrPull
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${token}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource vaultRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsUser
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: 'redis-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'Standard', family: 'C', capacity: 1 }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: 'psql-${token}'
  location: location
  tags: tags
  sku: { name: 'Standard_B2s', tier: 'Burstable' }
  properties: {
    version: '16'
    administratorLogin: postgresAdmin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource ledgerDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'ledger'
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'allow-azure-services'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

// Connection strings in the formats the services read locally (StackExchange.Redis, Npgsql).
resource cacheSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'cache-connection'
  properties: { value: '${redis.properties.hostName}:6380,password=${redis.listKeys().primaryKey},ssl=True,abortConnect=False' }
}

resource ledgerSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'ledger-connection'
  properties: { value: 'Host=${postgres.properties.fullyQualifiedDomainName};Database=ledger;Username=${postgresAdmin};Password=${postgresAdminPassword};Ssl Mode=Require' }
}

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: 'cae-${token}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    appInsightsConfiguration: { connectionString: insights.properties.ConnectionString }
    // The platform's OpenTelemetry agent sets OTEL_EXPORTER_OTLP_ENDPOINT in every app, so the services export as they do locally.
    openTelemetryConfiguration: {
      tracesConfiguration: { destinations: [ 'appInsights' ] }
      logsConfiguration: { destinations: [ 'appInsights' ] }
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: gpuProfileType }
    ]
  }
}

var connectionSecrets = [
  { name: 'cache', keyVaultUrl: '${vault.properties.vaultUri}secrets/cache-connection', identity: identity.id }
  { name: 'ledger', keyVaultUrl: '${vault.properties.vaultUri}secrets/ledger-connection', identity: identity.id }
]
var cacheEnv = { name: 'ConnectionStrings__cache', secretRef: 'cache' }
var ledgerEnv = { name: 'ConnectionStrings__ledger', secretRef: 'ledger' }
var workerNames = [for model in models: 'worker-${toLower(replace(replace(replace(replace(model.name, '.', '-'), '_', '-'), '/', '-'), ':', '-'))}']
var policyChainEnv = [for (model, i) in models: { name: 'Policy__Defaults__default__Chain__${i}', value: model.name }]
var policyThresholdEnv = [for i in range(0, length(models) - 1): { name: 'Policy__Defaults__default__Thresholds__${i}', value: '0.9' }]
var portfolioNames = [for (model, i) in models: { name: 'Portfolio__Models__${i}__Name', value: model.name }]
var portfolioTiers = [for (model, i) in models: { name: 'Portfolio__Models__${i}__Tier', value: string(i) }]
var portfolioInput = [for (model, i) in models: { name: 'Portfolio__Models__${i}__InputUsdPerMillionTokens', value: model.inputUsdPerMillionTokens }]
var portfolioOutput = [for (model, i) in models: { name: 'Portfolio__Models__${i}__OutputUsdPerMillionTokens', value: model.outputUsdPerMillionTokens }]
var portfolioContext = [for (model, i) in models: { name: 'Portfolio__Models__${i}__ContextLength', value: string(model.contextLength) }]
var common = {
  location: location
  tags: tags
  environmentId: environment.id
  identityId: identity.id
  registryLoginServer: registry.properties.loginServer
}

module workers 'worker.bicep' = [for (model, i) in models: {
  name: workerNames[i]
  dependsOn: [ registryPull, vaultRead ]
  params: {
    name: workerNames[i]
    location: common.location
    tags: common.tags
    environmentId: common.environmentId
    identityId: common.identityId
    registryLoginServer: common.registryLoginServer
    image: inferenceWorkerImage
    model: model
    keyVaultUri: vault.properties.vaultUri
  }
}]

module scoring 'app.bicep' = {
  name: 'scoring'
  dependsOn: [ registryPull, vaultRead, cacheSecret, ledgerSecret ]
  params: {
    name: 'scoring'
    location: common.location
    tags: common.tags
    environmentId: common.environmentId
    identityId: common.identityId
    registryLoginServer: common.registryLoginServer
    image: scoringImage
    grpc: true
    secrets: connectionSecrets
    environmentDomain: environment.properties.defaultDomain
    grpcReferences: workerNames
    env: [ cacheEnv, ledgerEnv ]
  }
}

module policy 'app.bicep' = {
  name: 'policy'
  dependsOn: [ registryPull, vaultRead, ledgerSecret ]
  params: {
    name: 'policy'
    location: common.location
    tags: common.tags
    environmentId: common.environmentId
    identityId: common.identityId
    registryLoginServer: common.registryLoginServer
    image: policyImage
    grpc: true
    secrets: connectionSecrets
    env: concat([ ledgerEnv ], policyChainEnv, policyThresholdEnv)
  }
}

module classifier 'app.bicep' = {
  name: 'classifier'
  dependsOn: [ registryPull, vaultRead, ledgerSecret ]
  params: {
    name: 'classifier'
    location: common.location
    tags: common.tags
    environmentId: common.environmentId
    identityId: common.identityId
    registryLoginServer: common.registryLoginServer
    image: classifierImage
    grpc: true
    secrets: connectionSecrets
    env: [ ledgerEnv ]
  }
}

module gateway 'app.bicep' = {
  name: 'gateway'
  dependsOn: [ registryPull, vaultRead, cacheSecret, ledgerSecret ]
  params: {
    name: 'gateway'
    location: common.location
    tags: common.tags
    environmentId: common.environmentId
    identityId: common.identityId
    registryLoginServer: common.registryLoginServer
    image: gatewayImage
    external: true
    environmentDomain: environment.properties.defaultDomain
    grpcReferences: concat([ 'scoring', 'policy', 'classifier' ], workerNames)
    maxReplicas: 10
    concurrentRequests: 100
    secrets: connectionSecrets
    env: concat(
      [
        cacheEnv
        ledgerEnv
        { name: 'Ledger__Directory', value: '/tmp/ledger-journal' }
      ],
      portfolioNames,
      portfolioTiers,
      portfolioInput,
      portfolioOutput,
      portfolioContext)
  }
}

output registryLoginServer string = registry.properties.loginServer
output keyVaultName string = vault.name
output gatewayUrl string = gateway.outputs.url
output workers array = [for (name, i) in workerNames: workers[i].outputs.fqdn]
output internalServices array = [ scoring.outputs.fqdn, policy.outputs.fqdn, classifier.outputs.fqdn ]
