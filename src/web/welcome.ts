import { escapeHtml } from '../pypi/render.js';

export interface WelcomeIndex {
  projectNames: readonly string[];
  projects: ReadonlyMap<string, { displayName: string; latest: string }>;
  fileCount: number;
}

/** `GET /`: what a person needs to start using this index. */
export function renderWelcome(snapshot: WelcomeIndex, baseUrl: string, version: string): string {
  const list = snapshot.projectNames
    .map((n) => {
      const p = snapshot.projects.get(n)!;
      return `      <li><a href="simple/${encodeURIComponent(n)}/">${escapeHtml(p.displayName)}</a> ${escapeHtml(p.latest)}</li>`;
    })
    .join('\n');
  const b = escapeHtml(baseUrl);
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>wheelhouse</title>
    <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}</style>
  </head>
  <body>
    <h1>wheelhouse</h1>
    <p>A private Python package index: ${snapshot.projects.size} projects, ${snapshot.fileCount} files. Version ${escapeHtml(version)}.</p>
    <h2>Install with pip</h2>
    <pre>pip install --index-url ${b}/simple/ PACKAGE</pre>
    <p>or for good, in <code>pip.conf</code>:</p>
    <pre>[global]
index-url = ${b}/simple/</pre>
    <h2>Upload with twine</h2>
    <pre>twine upload --repository-url ${b}/ dist/*</pre>
    <p>or in <code>~/.pypirc</code>:</p>
    <pre>[distutils]
index-servers = wheelhouse

[wheelhouse]
repository = ${b}/
username = USER</pre>
    <h2>poetry</h2>
    <pre>poetry source add --priority=primary wheelhouse ${b}/simple/
poetry config repositories.wheelhouse ${b}/
poetry publish -r wheelhouse</pre>
    <h2>Projects</h2>
    <p><a href="simple/">simple index</a> · <a href="packages/">all files</a> · <a href="health">health</a></p>
    <ul>
${list}
    </ul>
  </body>
</html>
`;
}
