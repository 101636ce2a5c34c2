@description('Container app name: worker-<model>, the name the Gateway and Scoring address it by.')
param name string
param location string
param tags object
param environmentId string
param identityId string
param registryLoginServer string
param image string
param keyVaultUri string

@description('One entry of the portfolio (see main.bicep): name, backend, servedModel, contextLength, and vllmImage or endpoint.')
param model object

var selfHosted = model.backend == 'vllm'

// A self-hosted model runs vLLM beside the worker on the GPU profile; the worker reaches it on localhost.
var vllm = selfHosted ? [
  {
    name: 'vllm'
    image: model.vllmImage
    args: [ '--model', model.servedModel, '--max-logprobs', '20', '--max-model-len', string(model.contextLength), '--port', '8000' ]
    resources: { cpu: json('8'), memory: '56Gi' }
    probes: [
      { type: 'Startup', httpGet: { path: '/health', port: 8000 }, periodSeconds: 10, failureThreshold: 60 }
    ]
  }
] : []

var apiKey = selfHosted ? [] : [
  { name: 'api-key', keyVaultUrl: '${keyVaultUri}secrets/${name}-api-key', identity: identityId }
]

module app 'app.bicep' = {
  name: '${name}-app'
  params: {
    name: name
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityId
    registryLoginServer: registryLoginServer
    image: image
    grpc: true
    workloadProfileName: selfHosted ? 'gpu' : 'Consumption'
    minReplicas: 1
    maxReplicas: selfHosted ? 1 : 3
    concurrentRequests: 32
    sidecars: vllm
    secrets: apiKey
    env: concat([
      { name: 'Worker__Model', value: model.name }
      { name: 'Worker__Backend', value: model.backend }
      { name: 'Worker__BackendModel', value: model.servedModel }
      { name: 'Worker__ContextLength', value: string(model.contextLength) }
      { name: 'Worker__InputUsdPerMillionTokens', value: model.inputUsdPerMillionTokens }
      { name: 'Worker__OutputUsdPerMillionTokens', value: model.outputUsdPerMillionTokens }
      { name: 'Worker__Endpoint', value: selfHosted ? 'http://localhost:8000' : model.endpoint }
    ], selfHosted ? [] : [
      { name: 'Worker__ApiKey', secretRef: 'api-key' }
    ])
  }
}

output fqdn string = app.outputs.fqdn
