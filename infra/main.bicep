targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; prefixes every resource.')
param environmentName string

@description('Azure region of every resource.')
param location string

@secure()
@description('PostgreSQL administrator password (azd prompts for it and keeps it in the environment).')
param postgresAdminPassword string

@description('Container image of each service, set by azd deploy (SERVICE_<NAME>_IMAGE_NAME); a placeholder until the first deploy.')
param gatewayImage string = 'mcr.microsoft.com/dotnet/samples:aspnetapp'
param scoringImage string = 'mcr.microsoft.com/dotnet/samples:aspnetapp'
param policyImage string = 'mcr.microsoft.com/dotnet/samples:aspnetapp'
param classifierImage string = 'mcr.microsoft.com/dotnet/samples:aspnetapp'
param inferenceWorkerImage string = 'mcr.microsoft.com/dotnet/samples:aspnetapp'

@description('GPU workload profile type for self-hosted models, e.g. Consumption-GPU-NC8as-T4 or Consumption-GPU-NC24-A100.')
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('The model portfolio, cheapest first. backend vllm runs a vLLM sidecar on the GPU profile; openai / azure-openai call the API with the key stored in Key Vault as secret <name>-api-key.')
param models array = [
  {
    name: 'llama3.1-8b'
    backend: 'vllm'
    servedModel: 'meta-llama/Llama-3.1-8B-Instruct'
    vllmImage: 'vllm/vllm-openai:v0.6.3'
    contextLength: 32768
    inputUsdPerMillionTokens: '0.18'
    outputUsdPerMillionTokens: '0.18'
  }
  {
    name: 'llama3.1-70b'
    backend: 'vllm'
    servedModel: 'meta-llama/Llama-3.1-70B-Instruct'
    vllmImage: 'vllm/vllm-openai:v0.6.3'
    contextLength: 32768
    inputUsdPerMillionTokens: '0.88'
    outputUsdPerMillionTokens: '0.88'
  }
  {
    name: 'gpt-4o'
    backend: 'azure-openai'
    servedModel: 'gpt-4o'
    endpoint: 'https://example.openai.azure.com/openai/v1/'
    contextLength: 128000
    inputUsdPerMillionTokens: '2.5'
    outputUsdPerMillionTokens: '10'
  }
]

var tags = { 'azd-env-name': environmentName }

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'modules/resources.bicep' = {
  name: 'resources'
  scope: group
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    postgresAdminPassword: postgresAdminPassword
    gatewayImage: gatewayImage
    scoringImage: scoringImage
    policyImage: policyImage
    classifierImage: classifierImage
    inferenceWorkerImage: inferenceWorkerImage
    gpuProfileType: gpuProfileType
    models: models
  }
}

output AZURE_CONTAINER_REGISTRY_ENDPOINT string = resources.outputs.registryLoginServer
output AZURE_KEY_VAULT_NAME string = resources.outputs.keyVaultName
output GATEWAY_URL string = resources.outputs.gatewayUrl
