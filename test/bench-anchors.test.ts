// The kv-ceiling benchmark's seed anchor: what it extracts from the KV seed document and the one change it makes.
// Pure text checks on the real seed document; the benchmark itself runs the extracted app (npm run bench -- --only=kv-ceiling).
import { extractSeedApp, readSeedDocument, seedChanges } from '../scripts/bench/anchors';

const FLASK_BLOCK = "from flask import Flask, request, jsonify\napp = Flask(__name__)\napp.run(debug=True, host='0.0.0.0', port=5001)\n";

describe('the seed anchor of the kv-ceiling benchmark', () => {
  test('extracts the Flask app.py listing of the KV seed document: its /kv route, in-cluster/kubeconfig fallback and run line', () => {
    const app = extractSeedApp(readSeedDocument().text);
    expect(app.startsWith('from flask import Flask, request, jsonify\n')).toBe(true);
    expect(app).toContain("@app.route('/kv/<namespace>/<configmap>', methods=['GET', 'POST', 'PUT', 'DELETE'])");
    expect(app).toContain('config.load_incluster_config()\nexcept config.ConfigException:\n    config.load_kube_config()');
    expect(app.trimEnd().endsWith("app.run(debug=True, host='0.0.0.0', port=5001)")).toBe(true);
    expect(app).not.toContain('```');
  });

  test('skips python blocks that do not start with the Flask import and fails when none or two do', () => {
    const other = '```python\nimport argparse\n```\n';
    expect(extractSeedApp(`${other}\`\`\`python\n${FLASK_BLOCK}\`\`\`\n`)).toBe(FLASK_BLOCK);
    expect(() => extractSeedApp(other)).toThrow(
      'seed document: expected one ```python block starting with ' + '"from flask import Flask, request, jsonify", found 0',
    );
    expect(() => extractSeedApp(`\`\`\`python\n${FLASK_BLOCK}\`\`\`\n\`\`\`python\n${FLASK_BLOCK}\`\`\`\n`)).toThrow('found 2');
  });

  test('changes only the port of the seed app, and names the change', () => {
    const app = extractSeedApp(readSeedDocument().text);
    const { source, changes } = seedChanges(app, 40123);
    const before = app.split('\n');
    const after = source.split('\n');
    expect(after).toHaveLength(before.length);
    const changed = before.map((line, i) => [line, after[i]]).filter(([a, b]) => a !== b);
    expect(changed).toEqual([["    app.run(debug=True, host='0.0.0.0', port=5001)", "    app.run(debug=True, host='0.0.0.0', port=40123)"]]);
    expect(changes).toEqual(['"port=5001" -> "port=40123" (a free port reserved by the bench)']);
    expect(() => seedChanges('app.run(debug=True)', 40123)).toThrow('seed app.py: expected "port=5001" once, found it 0 times');
  });
});
