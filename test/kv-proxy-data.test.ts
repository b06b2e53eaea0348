import * as path from 'node:path';

// The cache's one-copy ConfigMap data (lib/kv-proxy/server/data.js): the body
// reads send, and single values decoded from it.
const { ConfigMapData } = require(path.join(__dirname, '..', 'lib', 'kv-proxy', 'server', 'data.js'));
const { dataBytes } = require(path.join(__dirname, '..', 'lib', 'kv-proxy', 'server', 'validate.js'));

describe('ConfigMapData', () => {
  const data = JSON.parse(
    JSON.stringify({
      plain: 'value',
      empty: '',
      quotes: 'say "hi"\n\tand \\ leave',
      unicode: 'grüße 日本 🎉',
      control: '\u0001\u001f',
      lone: 'a\ud800b',
      big: 'x'.repeat(1048000),
    }),
  );
  data.__proto__x = 'y';
  const special = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t","hasOwnProperty":"h"}');

  test('the body is the JSON of the data, and every value reads back exactly', () => {
    // WHEN
    const d = new ConfigMapData(data);
    // THEN
    expect(JSON.parse(d.body.toString('utf8'))).toEqual(data);
    expect(d.body.toString('utf8')).toBe(
      `${JSON.stringify(
        Object.fromEntries(
          Object.keys(data)
            .sort()
            .map((k) => [k, data[k]]),
        ),
      )}\n`,
    );
    for (const k of Object.keys(data)) expect(d.get(k)).toBe(data[k]);
    expect(d.keys()).toEqual(Object.keys(data).sort());
    expect(d.size).toBe(Object.keys(data).length);
    expect(d.bytes).toBe(dataBytes(data));
    for (const k of Object.keys(data)) expect(d.valueBytes(k)).toBe(Buffer.byteLength(data[k]));
  });

  test('keys named like Object.prototype members are ordinary keys', () => {
    const d = new ConfigMapData(special);
    expect(JSON.parse(d.body.toString('utf8'))).toEqual(special);
    expect(d.get('__proto__')).toBe('p');
    expect(d.get('constructor')).toBe('c');
    expect(d.has('valueOf')).toBe(false);
    expect(d.get('valueOf')).toBeUndefined();
    expect(new ConfigMapData({}).get('constructor')).toBeUndefined();
  });

  test('an empty ConfigMap is {}', () => {
    expect(new ConfigMapData({}).body.toString('utf8')).toBe('{}\n');
  });
});
