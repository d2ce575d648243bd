import type { NodeView } from '@herald/server';
import { formatBytes, formatCount, formatDuration, formatMs } from '../format.js';
import { TableScroll } from './TableScroll.js';

/** Every live node: a node that stops leaves the table within a few intervals. */
export function NodesTable({ nodes, onBrowse }: { nodes: readonly NodeView[]; onBrowse: (nodeId: string) => void }) {
  return (
    <section aria-labelledby="nodes-title" className="card">
      <h2 id="nodes-title">Nodes</h2>
      <TableScroll label="Nodes table">
        <table aria-labelledby="nodes-title">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">Uptime</th>
              <th scope="col" className="number">Connections</th>
              <th scope="col" className="number">Subscriptions</th>
              <th scope="col" className="number">Event-loop delay (p99)</th>
              <th scope="col" className="number">Memory (RSS / heap)</th>
              <th scope="col" className="number">Bytes in / out per second</th>
              <th scope="col">Connections list</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((node) => (
              <tr key={node.nodeId} data-node={node.nodeId}>
                <th scope="row" className="mono">
                  {node.nodeId}
                </th>
                <td>{node.draining ? <span className="tag tag--warn">draining</span> : <span className="tag">serving</span>}</td>
                <td>{formatDuration(node.uptimeMs)}</td>
                <td className="number" data-column="connections">
                  {formatCount(node.connections)}
                </td>
                <td className="number">{formatCount(node.subscriptions)}</td>
                <td className="number">{formatMs(node.eventLoopDelayMs.p99)}</td>
                <td className="number">
                  {formatBytes(node.memory.rssBytes)} / {formatBytes(node.memory.heapUsedBytes)}
                </td>
                <td className="number" data-column="bytes">
                  {formatBytes(node.bytesInPerSecond)} / {formatBytes(node.bytesOutPerSecond)}
                </td>
                <td>
                  <button type="button" className="button button--quiet" onClick={() => onBrowse(node.nodeId)}>
                    Browse {node.nodeId}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </section>
  );
}
