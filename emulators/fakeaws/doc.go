// Package fakeaws is an in-process fake of the AWS APIs the provider calls:
// Secrets Manager and SSM Parameter Store (awsJson1.1, X-Amz-Target) and STS
// (awsQuery: form-encoded request, XML answer). It speaks the real wire
// protocols, so tests drive it with the unmodified AWS SDK by pointing
// BaseEndpoint at URL. It serves fast tests, the benchmark (Calls counts
// every request by service and operation) and `make demo`.
//
// It owns its in-memory data and nothing else: it never calls AWS, never
// reads credentials from the environment, and never logs or returns a
// secret value except to the request that reads it.
//
// Regions come from the SigV4 credential scope of each request, and each
// region has its own secrets and parameters, as on AWS. STS is global:
// credentials issued through any region work in every region.
//
// Implemented operations:
//   - Secrets Manager: CreateSecret, PutSecretValue, UpdateSecretVersionStage,
//     DeleteSecret, GetSecretValue, BatchGetSecretValue, DescribeSecret,
//     ListSecrets.
//   - SSM: PutParameter, GetParameter, GetParameters, LabelParameterVersion,
//     DeleteParameter.
//   - STS: AssumeRoleWithWebIdentity, GetCallerIdentity.
//
// # Checked here but not by moto
//
// The integration suite runs against this fake and against moto. moto
// accepts everything below, so cases that depend on it are fake-only:
//
//   - Web identity tokens: AssumeRoleWithWebIdentity requires a JWT with aud
//     "sts.amazonaws.com" (InvalidIdentityToken), an exp in the future
//     (ExpiredTokenException), a valid RoleArn and RoleSessionName
//     (ValidationError), and, if Trust rules exist for the role, a matching
//     sub (AccessDenied). The token's signature is not verified.
//   - IAM denials: DenyAction, DenySecret and DenyParameter make requests
//     signed with credentials of that role fail with AccessDeniedException
//     (per secret inside BatchGetSecretValue). moto does not evaluate IAM.
//   - Credentials the fake issued are authenticated: the session token must
//     match, the credentials must not be expired (ExpiredTokenException) and
//     the SigV4 signature must verify (InvalidSignatureException). With
//     RequireKnownCredentials, unknown access keys are rejected too.
//     Unsigned Secrets Manager and SSM requests fail
//     (MissingAuthenticationTokenException); moto routes requests by their
//     Authorization header and answers unsigned ones as S3 (ListBuckets XML).
//   - Request limits: more than 20 ids in BatchGetSecretValue is a
//     ValidationException (moto answers every id); GetParameters with
//     no names is a ValidationException (moto answers empty).
//   - FIPS: requests whose Host names a "-fips" endpoint are counted in
//     FIPSCalls. With BaseEndpoint set the SDK never picks a FIPS host, so a
//     test must resolve endpoints itself and dial the fake to see them.
//   - Fault injection (Inject) and call counting (Calls, CallsIn, Log).
//
// # Where moto and this fake answer differently
//
// Found by sending the same requests to moto 5.2.1:
//
//   - moto answers ResourceNotFoundException with HTTP 404; AWS and this
//     fake use 400. The SDK maps both to the same typed error.
//   - After UpdateSecretVersionStage moves AWSCURRENT, moto's GetSecretValue
//     and BatchGetSecretValue still return the version that was current
//     before (labelled AWSPREVIOUS). Rotate with PutSecretValue in shared
//     tests.
//   - moto lets UpdateSecretVersionStage attach a custom label that another
//     version carries without RemoveFromVersionId (and then lists it twice);
//     AWS and this fake require RemoveFromVersionId.
//   - moto accepts CreateSecret with both SecretString and SecretBinary; AWS
//     and this fake answer InvalidParameterException.
//   - moto answers CreateSecret for an existing name with a generic
//     ResourceExistsException message, and for a name scheduled for
//     deletion with ResourceExistsException; this fake says
//     InvalidRequestException for the latter, as AWS documents.
//   - GetParameters/GetParameter with a "name:version" or "name:label"
//     selector: this fake sets Selector (":3", ":label") as AWS does; moto
//     leaves it out. moto fails with HTTP 500 when a name repeats; this fake
//     answers it once. moto does not resolve parameter ARNs; this fake does.
//   - PutParameter with a name starting "aws"/"ssm": moto says
//     AccessDeniedException, this fake ValidationException.
//   - SecureString read without WithDecryption: both answer
//     "kms:<key id>:<value>" (AWS answers ciphertext). Callers must decrypt.
//   - AssumeRoleWithWebIdentity: this fake also returns
//     SubjectFromWebIdentityToken, Provider and Audience, as AWS does.
//     GetCallerIdentity with keys neither issued: moto says
//     arn:aws:sts::123456789012:user/moto, this fake
//     arn:aws:iam::123456789012:user/fakeaws.
//   - Error messages differ in places (for example a secret scheduled for
//     deletion); codes agree. Assert on codes in shared tests.
//
// emulators/moto's TestFakeAndMotoAgree sends the same requests to both and
// compares what a caller observes; extend it when the fake learns more.
package fakeaws
