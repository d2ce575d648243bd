import type { PresenceMember } from '@herald/client';
import type { User } from '../lib/types.js';
import { Avatar } from './Avatar.js';

/** Who is in the room: one entry per person, however many tabs they have open; named by its heading. */
export function Members({ members, me, stale }: { members: readonly PresenceMember<User>[]; me: User; stale: boolean }) {
  const people = new Map<string, { user: User; connections: number }>();
  for (const member of members) {
    const entry = people.get(member.info.id);
    if (entry) entry.connections += 1;
    else people.set(member.info.id, { user: member.info, connections: 1 });
  }
  const list = [...people.values()];

  return (
    // It scrolls (down beside the conversation, sideways on a phone): focusable, so the arrow keys scroll it too (axe's `scrollable-region-focusable`).
    <aside className={`members${stale ? ' members--stale' : ''}`} aria-labelledby="members-title" tabIndex={0}>
      <h2 id="members-title" className="members__title">
        In this room <span className="members__count">{list.length}</span>
      </h2>
      {stale && <p className="members__stale">As of the last connection; may be out of date.</p>}
      <ul className="members__list" aria-busy={stale || undefined}>
        {list.map(({ user }) => (
          <li key={user.id} className="member">
            <Avatar name={user.name} id={user.id} size="sm" />
            <span className="member__name">{user.name}</span>
            {user.id === me.id && <span className="member__you">you</span>}
          </li>
        ))}
      </ul>
    </aside>
  );
}
