"""The window's edits that are not the canvas's own gestures: a brick from the palette or a
drop, a parameter from the inspector or the Training panel, one init for every layer, copy
and paste, the auto-layout, keeping the trained weights, and the theme. Each change of the
document is one undoable command pushed through the scene. A mixin of ``MainWindow``."""
from __future__ import annotations

import json

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from gradviz.app import safety
from gradviz_core.model.commands import AddNode, Group, MoveNodes, SetParam, copy_nodes, paste_command
from gradviz_core.model.layout import layered_positions


NODE_W, NODE_H = 200.0, 90.0  # the room a new brick needs (a node's width; a little more than its height)


def free_spot(x: float, y: float, taken: list, step: float = 30.0) -> tuple[float, float]:
    """The free place nearest (x, y), in rings of ``step``, for a node of NODE_W × NODE_H."""
    def free(px: float, py: float) -> bool:
        box = QRectF(px - 10, py - 10, NODE_W + 20, NODE_H + 20)
        return not any(box.intersects(t) for t in taken)
    for ring in range(0, 60):
        spots = [(x + step * i, y + step * j) for i in range(-ring, ring + 1) for j in range(-ring, ring + 1)
                 if max(abs(i), abs(j)) == ring]
        spots.sort(key=lambda p: (abs(p[1] - y) * 1.5 + abs(p[0] - x), p))  # rows before columns
        for px, py in spots:
            if free(px, py):
                return px, py
    return x, y


class EditActions:
    def add_brick(self, type_name: str) -> None:
        """On a free spot: to the right of the selected node (where the next brick of a chain
        goes), else at the centre of the view; if that is taken, the nearest free place in
        rows and columns around it. Added bricks never land on one another."""
        selected = [i for i in self.scene.selectedItems() if hasattr(i, "name")]
        if len(selected) == 1:
            box = selected[0].sceneBoundingRect()
            x, y = box.right() + 40, selected[0].pos().y()
        else:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            x, y = center.x() - NODE_W / 2, center.y() - 30
        x, y = free_spot(x, y, [item.sceneBoundingRect() for item in self.scene.nodes.values()])
        self.scene.push(AddNode(type_name, pos=(x, y)))

    def set_param(self, node: str, key: str, value) -> None:
        if node in self.graph:  # the inspector sends only real changes, of the node it shows
            self.scene.push(SetParam(node, key, value))

    def init_all_layers(self, scheme: str) -> None:
        """One initialization scheme for every layer: one undoable step."""
        commands = [SetParam(n, "init", scheme) for n in self.graph.order
                    if "init" in self.graph.brick(n).config and self.graph.brick(n).config["init"] != scheme]
        if commands:
            self.scene.push(Group(f"initialize every layer with {scheme}", commands))

    def copy(self) -> None:
        names = [i.name for i in self.scene.selectedItems() if hasattr(i, "name")]
        if names:
            QApplication.clipboard().setText(json.dumps(copy_nodes(self.graph, names)))

    def paste(self) -> None:
        try:
            clip = json.loads(QApplication.clipboard().text())
        except ValueError:
            clip = None
        if not isinstance(clip, dict) or not isinstance(clip.get("nodes"), list) or "edges" not in clip:
            self.statusBar().showMessage("The clipboard holds no gradviz nodes", 5000)
            return
        if self.scene.push(paste_command(self.graph, clip)):
            self.scene.clearSelection()
            for c in self.undo.command(self.undo.count() - 1).command.commands:
                if hasattr(c, "type_name"):
                    self.scene.nodes[c.name].setSelected(True)

    def drop_brick(self, type_name: str, scene_pos) -> None:
        self.scene.push(AddNode(type_name, pos=(scene_pos.x(), scene_pos.y())))

    def auto_layout(self) -> None:
        """Place the nodes in layers (one undoable step); folded blocks unfold first (their nodes
        are laid out with the rest)."""
        self.scene.unfold_all()
        new = layered_positions(self.graph)
        moves = {n: (self.graph.pos(n), p) for n, p in new.items() if tuple(p) != self.graph.pos(n)}
        if moves:
            self.scene.push(MoveNodes(moves))
            self.view.fit()

    def keep_trained_weights(self) -> None:
        command = self.train_session.keep_command()
        if command is None:
            self.statusBar().showMessage("There are no trained weights to keep yet", 5000)
        elif self.scene.push(command):
            self.statusBar().showMessage("The trained weights are now the graph's (Ctrl+Z undoes it)", 8000)
            self.training_panel.refresh()  # "from the graph's weights" is now a choice

    def set_theme(self, theme: str) -> None:
        """The whole app, not just the canvas: Qt's Fusion style with a light or dark palette."""
        app = QApplication.instance()
        app.setStyle("Fusion")
        if theme == "dark":
            pal = QPalette()
            for role, color in ((QPalette.Window, "#2b2d31"), (QPalette.WindowText, "#e6e6e6"),
                                (QPalette.Base, "#1e1f22"), (QPalette.AlternateBase, "#2b2d31"),
                                (QPalette.Text, "#e6e6e6"), (QPalette.Button, "#35373c"),
                                (QPalette.ButtonText, "#e6e6e6"), (QPalette.Highlight, "#4c8bf5"),
                                (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#35373c"),
                                (QPalette.ToolTipText, "#e6e6e6")):
                pal.setColor(role, QColor(color))
            app.setPalette(pal)
        else:
            app.setPalette(app.style().standardPalette())
        self.scene.set_theme(theme)
        safety.settings().setValue("theme", theme)
